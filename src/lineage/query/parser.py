"""The filter language's parser: recursive descent over the tokens, never ``eval``.

:func:`parse` reads a filter, :func:`parse_field` one field name, :func:`parse_order_by` a sort
specification; each raises QueryError saying where and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NoReturn

from ..errors import QueryError
from .evaluate import _regex
from .lexer import _Token, _tokenize
from .nodes import And, Compare, Exists, Field, In, Node, Not, Or, Value

MAX_QUERY_LENGTH = 10_000
MAX_DEPTH = 100

TOP_LEVEL_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "status",
    "model_version",
    "data_version",
    "number",
    "set",
    "id",
    "created",
    "ended",
    "duration",
    "data_fingerprint",
)
_PREFIXES: dict[str, str] = {
    "params": "params",
    "hyperparameters": "params",
    "metrics": "metrics",
    "tags": "tags",
}
_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "is", "null", "true", "false", "exists", "asc", "desc"}
)


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, not {type(text).__name__}")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"{what} is too long ({len(text)} characters; at most {MAX_QUERY_LENGTH})",
            "",
            MAX_QUERY_LENGTH,
        )
    if "\x00" in text:
        raise QueryError(f"{what} contains a NUL character", "", text.index("\x00"))
    return text


def _make_field(token: _Token, source: str) -> Field:
    """Turn an identifier token into a Field, or explain why it is not one."""
    name = str(token.value)
    head, dot, key = name.partition(".")
    low = head.lower()
    if dot and low in _PREFIXES:
        if not key:
            raise QueryError(
                f"expected a key after {head + '.'!r}, e.g. {low}.f1",
                source,
                token.pos + len(head) + 1,
            )
        return Field(_PREFIXES[low], key)
    if not dot and low in TOP_LEVEL_FIELDS:
        return Field("top", low)
    if not dot and low in _PREFIXES:
        raise QueryError(f"expected a key after {head!r}, e.g. {low}.f1", source, token.pos)
    valid = ", ".join(TOP_LEVEL_FIELDS)
    message = (
        f"unknown field {name!r}: expected one of {valid}, "
        "or params.<key>, metrics.<key>, tags.<key>"
    )
    import difflib  # only on this error path

    close = difflib.get_close_matches(low, [*_PREFIXES, *TOP_LEVEL_FIELDS], n=1, cutoff=0.75)
    if close:
        guess = f"{close[0]}.{key}" if dot and close[0] in _PREFIXES else close[0]
        message += f" (did you mean {guess!r}?)"
    raise QueryError(message, source, token.pos)


_NULL = object()


class _Parser:
    """Recursive descent over the token list; precedence: not > and > or."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def previous(self) -> _Token | None:
        return self.tokens[self.i - 1] if self.i > 0 else None

    def fail(self, message: str, token: _Token) -> NoReturn:
        raise QueryError(message, self.source, token.pos)

    @staticmethod
    def is_word(token: _Token, *words: str) -> bool:
        return token.kind == "ident" and str(token.value).lower() in words

    def nest(self, depth: int, token: _Token) -> int:
        if depth >= MAX_DEPTH:
            self.fail(f"query is nested too deeply (more than {MAX_DEPTH} levels)", token)
        return depth + 1

    def parse_or(self, depth: int) -> Node:
        items = [self.parse_and(depth)]
        while self.is_word(self.peek(), "or"):
            self.advance()
            items.append(self.parse_and(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, depth: int) -> Node:
        items = [self.parse_not(depth)]
        while self.is_word(self.peek(), "and"):
            self.advance()
            items.append(self.parse_not(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self, depth: int) -> Node:
        count = 0
        while self.is_word(self.peek(), "not"):
            depth = self.nest(depth, self.advance())
            count += 1
        node = self.parse_primary(depth)
        for _ in range(count):
            node = Not(node)
        return node

    def parse_primary(self, depth: int) -> Node:
        token = self.peek()
        if token.kind == "(":
            depth = self.nest(depth, token)
            self.advance()
            node = self.parse_or(depth)
            close = self.peek()
            if close.kind == "end":
                self.fail("unbalanced parenthesis: this '(' is never closed", token)
            if close.kind != ")":
                self.fail(f"expected 'and', 'or' or ')', got {close.describe()}", close)
            self.advance()
            return node
        before = self.previous()
        if token.kind == ")" and before is not None and before.kind == "(":
            self.fail("expected a condition inside the parentheses", token)
        return self.parse_predicate()

    def parse_predicate(self) -> Node:
        token = self.advance()
        if token.kind not in ("ident", "qident") or self.is_word(token, *_KEYWORDS):
            before = self.previous_of(token)
            where = f" after {before.text!r}" if before is not None else ""
            if token.kind == "end":
                self.fail(f"expected a condition{where}, e.g. metrics.f1 > 0.8", token)
            self.fail(
                f"expected a field name such as metrics.f1{where}, got {token.describe()}", token
            )
        field = _make_field(token, self.source)
        op = self.peek()
        if op.kind == "op":
            self.advance()
            return self.comparison(field, op)
        if self.is_word(op, "in"):
            self.advance()
            return In(field, self.value_list(op))
        if self.is_word(op, "exists"):
            self.advance()
            return Exists(field, True)
        if self.is_word(op, "not"):
            self.advance()
            after = self.peek()
            if self.is_word(after, "in"):
                self.advance()
                values = self.value_list(after)
                parts = tuple(Compare(field, "!=", v) for v in values)
                return parts[0] if len(parts) == 1 else And(parts)
            if self.is_word(after, "exists"):
                self.advance()
                return Exists(field, False)
            self.fail(f"expected 'in' or 'exists' after 'not', got {after.describe()}", after)
        if self.is_word(op, "is"):
            self.advance()
            after = self.advance()
            present = self.is_word(after, "not")
            if present:
                after = self.advance()
            if not self.is_word(after, "null"):
                said = "'is not'" if present else "'is'"
                self.fail(f"expected 'null' after {said}, got {after.describe()}", after)
            return Exists(field, present)
        self.fail(
            f"expected an operator after {token.text!r} (=, !=, <, <=, >, >=, ~, !~, in, "
            f"not in, exists, is null), got {op.describe()}",
            op,
        )

    def previous_of(self, token: _Token) -> _Token | None:
        index = next(i for i, t in enumerate(self.tokens) if t is token)
        return self.tokens[index - 1] if index > 0 else None

    def comparison(self, field: Field, op: _Token) -> Node:
        operator = str(op.value)
        if operator in ("~", "!~"):
            pattern = self.advance()
            if pattern.kind != "string":
                self.fail(
                    f"expected a regular expression in quotes after {op.text!r}, "
                    f"got {pattern.describe()}",
                    pattern,
                )
            try:
                _regex(str(pattern.value))
            except re.error as exc:
                self.fail(f"invalid regular expression ({exc.msg})", pattern)
            return Compare(field, operator, str(pattern.value))
        value_token = self.peek()
        value = self.value(op)
        if value is _NULL:
            if operator == "=":
                return Exists(field, False)
            if operator == "!=":
                return Exists(field, True)
            self.fail(
                f"null can only be compared with = or != (or use 'is null'), not {op.text!r}",
                value_token,
            )
        return Compare(field, operator, value)  # type: ignore[arg-type]

    def value(self, after: _Token) -> object:
        token = self.advance()
        if token.kind in ("number", "string"):
            return token.value
        if token.kind == "ident":
            word = str(token.value).lower()
            if word == "true":
                return True
            if word == "false":
                return False
            if word == "null":
                return _NULL
        message = f"expected a value after {after.text!r}"
        if token.kind == "end":
            self.fail(message, token)
        message += f", got {token.describe()}"
        if token.kind == "qident" or (token.kind == "ident" and "." in str(token.value)):
            message += " (comparing two fields is not supported)"
        elif token.kind == "ident" and str(token.value).lower() not in _KEYWORDS:
            message += f"; put text in quotes: '{token.value}'"
        else:
            message += " (a number, 'quoted text', true, false or null)"
        self.fail(message, token)

    def value_list(self, keyword: _Token) -> tuple[Value, ...]:
        opening = self.advance()
        if opening.kind != "(":
            self.fail(f"expected '(' after {keyword.text!r}, got {opening.describe()}", opening)
        values: list[Value] = []
        after = opening
        while True:
            if self.peek().kind == ")" and values:  # a trailing comma is fine
                self.advance()
                return tuple(values)
            token = self.peek()
            value = self.value(after)
            if value is _NULL:
                self.fail("null is not allowed in a list; use 'is null'", token)
            values.append(value)  # type: ignore[arg-type]
            after = self.advance()
            if after.kind == ")":
                return tuple(values)
            if after.kind == "end":
                self.fail("unbalanced parenthesis: this '(' is never closed", opening)
            if after.kind != ",":
                self.fail(f"expected ',' or ')' in the list, got {after.describe()}", after)


def parse(query: str) -> Node:
    """Parse a filter expression; raise QueryError saying where and what was expected."""
    _check_text(query, "query")
    if not query.strip():
        raise QueryError("empty query: expected a condition such as metrics.f1 > 0.8", query, 0)
    parser = _Parser(query)
    node = parser.parse_or(0)
    token = parser.peek()
    if token.kind == ")":
        parser.fail("unbalanced parenthesis: this ')' has no matching '('", token)
    if token.kind != "end":
        parser.fail(f"expected 'and', 'or' or the end of the query, got {token.describe()}", token)
    return node


def parse_field(text: str) -> Field:
    """``"metrics.f1"`` -> ``Field("metrics", "f1")``; an unknown name raises QueryError."""
    _check_text(text, "field")
    tokens = _tokenize(text)
    token = tokens[0]
    if token.kind == "end":
        raise QueryError("empty field name: expected e.g. metrics.f1", text, 0)
    if token.kind not in ("ident", "qident") or _Parser.is_word(token, *_KEYWORDS):
        raise QueryError(
            f"expected a field name such as metrics.f1, got {token.describe()}", text, token.pos
        )
    field = _make_field(token, text)
    if tokens[1].kind != "end":
        raise QueryError(
            f"expected a single field name, got {tokens[1].describe()}", text, tokens[1].pos
        )
    return field


def parse_order_by(spec: str | Sequence[str] | None) -> list[tuple[Field, bool]]:
    """``"-metrics.f1, params.depth asc"`` -> ``[(Field, descending), ...]``."""
    if spec is None:
        return []
    specs = [spec] if isinstance(spec, str) else list(spec)
    result: list[tuple[Field, bool]] = []
    for text in specs:
        _check_text(text, "order-by")
        if not text.strip():
            continue
        tokens = _tokenize(text)
        i = 0
        while True:
            token = tokens[i]
            minus = token.kind == "-"
            if minus:
                i += 1
                token = tokens[i]
            if token.kind not in ("ident", "qident") or _Parser.is_word(token, *_KEYWORDS):
                raise QueryError(
                    f"expected a field name such as metrics.f1, got {token.describe()}",
                    text,
                    token.pos,
                )
            field = _make_field(token, text)
            i += 1
            token = tokens[i]
            descending = minus
            if _Parser.is_word(token, "asc", "desc"):
                if minus:
                    raise QueryError(
                        "use either a leading '-' or asc/desc, not both", text, token.pos
                    )
                descending = str(token.value).lower() == "desc"
                i += 1
                token = tokens[i]
            result.append((field, descending))
            if token.kind == "end":
                break
            if token.kind != ",":
                raise QueryError(
                    f"expected ',', 'asc', 'desc' or the end of the order-by, "
                    f"got {token.describe()}",
                    text,
                    token.pos,
                )
            i += 1
    return result
