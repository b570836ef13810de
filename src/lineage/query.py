"""A small, safe filter language over experiment records (see docs/query.md).

    metrics.f1 > 0.8 and params.max_depth >= 10
    tags.team = 'nlp' or name ~ 'forest'
    not (metrics.loss < 0.1 or params.lr = 0.01)

:func:`parse` turns text into a tree of frozen dataclasses with a hand-written recursive-descent
parser (never ``eval``). :func:`matches` evaluates the tree against an ``experiment.json``-shaped
record; :func:`to_sql` turns it into an SQLite ``WHERE`` fragment with the same semantics.

Semantics, shared by both evaluators:

- a missing field (or a null value) makes every comparison false; ``not`` of that is true;
- numbers compare numerically; ``true``/``false`` are the numbers 1 and 0;
- a number and a string compare numerically when the string is a number (``'10'`` and ``10``
  match); otherwise they are unequal and unordered (``!=`` true, ``<``/``>`` false);
- two strings compare as strings (case-sensitive, code-point order);
- ``~`` is a case-insensitive ``re.search`` on the value's string form (lists and objects as
  compact JSON); ``set`` compares numbers with the set's number and strings with its name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from .errors import QueryError

__all__ = [
    "MAX_DEPTH",
    "MAX_QUERY_LENGTH",
    "OPERATORS",
    "TOP_LEVEL_FIELDS",
    "And",
    "Compare",
    "Exists",
    "Field",
    "In",
    "Node",
    "Not",
    "Or",
    "SET_NAME",
    "field_value",
    "matches",
    "parse",
    "parse_field",
    "parse_order_by",
    "scalar",
    "sql_quote",
    "sqlite_regexp",
    "to_sql",
]

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
_KINDS = ("top", "params", "metrics", "tags")

#: Canonical comparison operators (``==`` is read as ``=``, ``<>`` as ``!=``).
OPERATORS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=", "~", "!~")
_OPERATOR_SPELLINGS: dict[str, str] = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "~": "~",
    "!~": "!~",
}
_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "is", "null", "true", "false", "exists", "asc", "desc"}
)

_BARE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", re.ASCII)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*", re.ASCII)
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.+\-]*", re.ASCII)
#: A string "is a number" when it matches this; text around it (even a space) makes it text.
_NUMERIC_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
#: REGEXP patterns starting with NUL are lineage's own numeric tests (see sqlite_regexp).
_NUMERIC_TEST = "\x00"
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_INT64 = 2**63

Value = int | float | str | bool


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Field:
    """A field of an experiment record: ``Field("metrics", "f1")`` or ``Field("top", "name")``."""

    kind: str  # "top" | "params" | "metrics" | "tags"
    key: str

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Field kind must be one of {', '.join(_KINDS)}, not {self.kind!r}")

    def __str__(self) -> str:
        if self.kind == "top":
            return self.key
        if _BARE_KEY.fullmatch(self.key):
            return f"{self.kind}.{self.key}"
        return f"{self.kind}.`{self.key.replace('`', '``')}`"


#: The field ``column()`` and ``field_value()`` are asked for when ``set`` meets a string.
SET_NAME = Field("top", "set_name")
_SET = Field("top", "set")


@dataclass(frozen=True)
class Compare:
    """``field op value``; ``op`` is one of :data:`OPERATORS`, ``value`` never None."""

    field: Field
    op: str
    value: Value

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"op must be one of {', '.join(OPERATORS)}, not {self.op!r}")
        _check_value(self.value)
        if self.op in ("~", "!~") and (not isinstance(self.value, str) or "\x00" in self.value):
            raise ValueError(f"{self.op} needs a string pattern without NUL, not {self.value!r}")

    def __str__(self) -> str:
        return f"{self.field} {self.op} {_format_value(self.value)}"


@dataclass(frozen=True)
class In:
    """``field in (v1, v2, ...)``: equal (``=``) to any of the values."""

    field: Field
    values: tuple[Value, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("In needs at least one value")
        for value in self.values:
            _check_value(value)

    def __str__(self) -> str:
        return f"{self.field} in ({', '.join(_format_value(v) for v in self.values)})"


@dataclass(frozen=True)
class Exists:
    """``field exists`` (present=True) or ``field is null`` (present=False)."""

    field: Field
    present: bool = True

    def __str__(self) -> str:
        return f"{self.field} {'exists' if self.present else 'not exists'}"


@dataclass(frozen=True)
class And:
    """All of the items."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))

    def __str__(self) -> str:
        return " and ".join(_format_operand(item, (And, Or)) for item in self.items)


@dataclass(frozen=True)
class Or:
    """Any of the items."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))

    def __str__(self) -> str:
        return " or ".join(_format_operand(item, Or) for item in self.items)


@dataclass(frozen=True)
class Not:
    """The negation of the item (two-valued: a comparison on a missing field is false)."""

    item: Node

    def __str__(self) -> str:
        return f"not {_format_operand(self.item, (And, Or))}"


Node = Compare | In | Exists | And | Or | Not


def _check_value(value: object) -> None:
    if not isinstance(value, (int, float, str)) or (isinstance(value, float) and value != value):
        raise ValueError(f"a query value must be a number, string or bool, not {value!r}")


def _format_operand(node: Node, wrap: type | tuple[type, ...]) -> str:
    return f"({node})" if isinstance(node, wrap) else str(node)


def _format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "null"
        if value in (float("inf"), float("-inf")):
            return "1e999" if value > 0 else "-1e999"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = value.replace("\\", "\\\\").replace("'", "\\'")
    return "'" + text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "'"


# --------------------------------------------------------------------------- tokenizer


class _Token:
    """One lexeme: kind is ident, qident (backquoted), number, string, op, (, ), ",", - or end."""

    __slots__ = ("kind", "text", "value", "pos")

    def __init__(self, kind: str, text: str, value: object, pos: int) -> None:
        self.kind = kind
        self.text = text  # as written, for messages
        self.value = value
        self.pos = pos

    def describe(self) -> str:
        return "the end of the input" if self.kind == "end" else repr(self.text)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            end = tokens[-1].pos + len(tokens[-1].text) if tokens else 0
            tokens.append(_Token("end", "", None, end))
            return tokens
        c = text[i]
        if c in "(),":
            tokens.append(_Token(c, c, c, i))
            i += 1
        elif c in "'\"":
            value, j = _read_quoted(text, i)
            tokens.append(_Token("string", text[i:j], value, i))
            i = j
        elif c == "`":
            name, j = _read_backquoted(text, i)
            tokens.append(_Token("qident", text[i:j], name, i))
            i = j
        elif (m := _NUMBER.match(text, i)) is not None:
            tail = _NUMBER_TAIL.match(text, m.end())
            if tail is not None and tail.end() > m.end():
                bad = text[i : tail.end()]
                raise QueryError(f"invalid number {bad!r}; put text in quotes: '{bad}'", text, i)
            tokens.append(_Token("number", m.group(), _number_value(m.group()), i))
            i = m.end()
        elif c == "-":
            tokens.append(_Token("-", c, c, i))
            i += 1
        elif (m := _IDENT.match(text, i)) is not None:
            word, j = m.group(), m.end()
            if word.endswith(".") and j < n and text[j] == "`":
                key, j = _read_backquoted(text, j)
                tokens.append(_Token("qident", text[i:j], word + key, i))
            else:
                tokens.append(_Token("ident", word, word, i))
            i = j
        elif c in "=!<>~":
            j = i
            while j < n and text[j] in "=!<>~":
                j += 1
            spelling = text[i:j]
            if spelling not in _OPERATOR_SPELLINGS:
                hint = "; use 'not' to negate" if spelling == "!" else ""
                raise QueryError(
                    f"unknown operator {spelling!r}: expected one of "
                    f"=, ==, !=, <>, <, <=, >, >=, ~, !~{hint}",
                    text,
                    i,
                )
            tokens.append(_Token("op", spelling, _OPERATOR_SPELLINGS[spelling], i))
            i = j
        else:
            hint = ""
            if c in "&|":
                hint = "; use 'and' / 'or'"
            elif c.isalpha():
                hint = "; put names with other characters in backquotes: `...`"
            raise QueryError(f"unexpected character {c!r}{hint}", text, i)


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read a '...' or "..." string: backslash escapes, doubled quote = one quote."""
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            d = text[i + 1]
            out.append(_ESCAPES.get(d, "\\" + d))  # unknown escapes stay as written (\d, \.)
            i += 2
        elif c == quote:
            if i + 1 < n and text[i + 1] == quote:
                out.append(quote)
                i += 2
            else:
                return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise QueryError(f"unterminated string: expected a closing {quote}", text, start)


def _read_backquoted(text: str, start: int) -> tuple[str, int]:
    """Read a `...` name; a doubled backquote stands for one."""
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        if text[i] == "`":
            if i + 1 < n and text[i + 1] == "`":
                out.append("`")
                i += 2
                continue
            if not out:
                raise QueryError("empty name in backquotes", text, start)
            return "".join(out), i + 1
        out.append(text[i])
        i += 1
    raise QueryError("unterminated backquoted name: expected a closing `", text, start)


def _number_value(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    value = int(text)
    return value if -_INT64 <= value < _INT64 else float(value)


# --------------------------------------------------------------------------- parser


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


# --------------------------------------------------------------------------- evaluation


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def sqlite_regexp(pattern: str, value: object) -> bool:
    """SQLite REGEXP: ``conn.create_function("REGEXP", 2, sqlite_regexp, deterministic=True)``.

    Case-insensitive ``re.search`` on the value's string form; NULL or a blob never matches.
    A pattern starting with NUL (which no query can hold) is :func:`to_sql`'s numeric test of a
    text value, done here so that text is read as a number exactly as :func:`matches` reads it.
    """
    if pattern is None or value is None or isinstance(value, (bytes, bytearray, memoryview)):
        return False
    if pattern.startswith(_NUMERIC_TEST):
        op, numbers = _numeric_test(pattern)
        left = _number(value) if isinstance(value, str) else scalar(value)
        if op == "in":
            return left is not None and any(left == n for n in numbers)
        return _numeric_compare(left, op, numbers[0])  # type: ignore[arg-type]
    return _regex(pattern).search(value if isinstance(value, str) else str(value)) is not None


def _numeric_pattern(op: str, numbers: Sequence[int | float]) -> str:
    return f"{_NUMERIC_TEST}{op}{_NUMERIC_TEST}" + ",".join(repr(n) for n in numbers)


@functools.lru_cache(maxsize=256)
def _numeric_test(pattern: str) -> tuple[str, tuple[int | float, ...]]:
    _, op, text = pattern.split(_NUMERIC_TEST, 2)
    numbers = tuple(int(t) if t.lstrip("-").isdigit() else float(t) for t in text.split(","))
    return op, numbers


def sql_quote(text: str) -> str:
    """``text`` as an SQL string literal (for keys a ``column()`` function puts in its SQL)."""
    if "\x00" in text:
        raise ValueError("an SQL string literal cannot hold a NUL character")
    return "'" + text.replace("'", "''") + "'"


def _lookup(mapping: object, key: str) -> object:
    """``mapping[key]``, else the nested value along dots (``"a.b"`` -> ``mapping["a"]["b"]``)."""
    if not isinstance(mapping, Mapping):
        return None
    if key in mapping:
        return mapping[key]
    parts = key.split(".")
    for cut in range(1, len(parts)):
        head = ".".join(parts[:cut])
        inner = mapping.get(head)
        if isinstance(inner, Mapping):
            found = _lookup(inner, ".".join(parts[cut:]))
            if found is not None:
                return found
    return None


def field_value(field: Field, record: Mapping[str, Any]) -> object:
    """The value ``field`` reads from an experiment.json-shaped record (None when missing).

    ``set`` reads the set's number; :data:`SET_NAME` reads its name.
    """
    if field.kind == "top":
        if field.key in ("set", "set_name"):
            want = "number" if field.key == "set" else "name"
            info = record.get("set")
            if isinstance(info, Mapping):
                return info.get(want)
            if info is None:
                return record.get(f"set_{want}")
            ok = isinstance(info, str) if want == "name" else not isinstance(info, str)
            return info if ok else None
        if field.key == "data_fingerprint":
            data = record.get("data")
            return data.get("fingerprint") if isinstance(data, Mapping) else None
        return record.get(field.key)
    if field.kind == "params":
        section = record.get("hyperparameters")
        if section is None:
            section = record.get("params")
    else:
        section = record.get(field.kind)
    return _lookup(section, field.key)


def scalar(value: object) -> int | float | str | None:
    """A record value as filters see it (and as an index should store it).

    bool -> 1/0, list/dict -> compact JSON text, NaN -> None; numbers and text unchanged.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, (list, tuple, dict)):
        import json  # only for lists and objects

        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _number(text: str) -> int | float | None:
    """The number a string spells exactly (``"10"``, ``"-1.5e3"``), or None."""
    if _NUMERIC_TEXT.fullmatch(text) is None:
        return None
    return _number_value(text)


def _numeric_compare(left: int | float | None, op: str, right: int | float | None) -> bool:
    """Compare two numbers; a non-number (None) on either side is only ever ``!=``."""
    if left is None or right is None:
        return op == "!="
    return _COMPARE[op](left, right)


def _resolve(field: Field, value: Value) -> Field:
    return SET_NAME if field == _SET and isinstance(value, str) else field


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def _compare(raw: object, op: str, literal: Value) -> bool:
    value = scalar(raw)
    if value is None:
        return False
    if op == "~" or op == "!~":
        found = _regex(str(literal)).search(str(value)) is not None
        return found if op == "~" else not found
    if isinstance(value, str) and isinstance(literal, str):
        return _COMPARE[op](value, literal)
    left = _number(value) if isinstance(value, str) else value
    right = _number(literal) if isinstance(literal, str) else literal
    return _numeric_compare(left, op, right)


def matches(node: Node, record: Mapping[str, Any]) -> bool:
    """Whether an experiment.json-shaped record satisfies the parsed filter."""
    if isinstance(node, Compare):
        return _compare(field_value(_resolve(node.field, node.value), record), node.op, node.value)
    if isinstance(node, In):
        return any(
            _compare(field_value(_resolve(node.field, v), record), "=", v) for v in node.values
        )
    if isinstance(node, Exists):
        return (scalar(field_value(node.field, record)) is not None) == node.present
    if isinstance(node, And):
        return all(matches(item, record) for item in node.items)
    if isinstance(node, Or):
        return any(matches(item, record) for item in node.items)
    if isinstance(node, Not):
        return not matches(node.item, record)
    raise TypeError(f"not a query node: {node!r}")


# --------------------------------------------------------------------------- SQL


_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _bindable(number: int | float | bool) -> int | float:
    number = int(number) if isinstance(number, bool) else number
    if isinstance(number, int) and not -_INT64 <= number < _INT64:
        return float(number)
    return number


def _numeric_compare_sql(column: str, op: str, literal: Value, params: list[Any]) -> str:
    """``_compare_sql`` for a column known to hold only numbers or NULL: plain, indexable SQL."""
    number = _number(literal) if isinstance(literal, str) else _bindable(literal)
    if number is None:  # text that is no number: unequal to every number
        return f"({column} IS NOT NULL)" if op == "!=" else "0"
    params.append(_bindable(number))
    return f"({column} IS NOT NULL AND {column} {_SQL_OPS[op]} ?)"  # NULL never reaches NOT


def _compare_sql(column: str, op: str, literal: Value, params: list[Any]) -> str:
    c = column
    if op in ("~", "!~"):
        params.append(str(literal))
        neg = "NOT " if op == "!~" else ""
        return f"({c} IS NOT NULL AND {neg}({c} REGEXP ?))"
    sop = _SQL_OPS[op]
    unequal = "1" if op == "!=" else "0"
    v = f"+({c})"  # unary + drops the column's affinity: no implicit conversions
    is_num = f"typeof({c}) IN ('integer', 'real')"
    is_text = f"typeof({c}) = 'text'"
    if isinstance(literal, str):
        number = _number(literal)
        if number is None:
            num_branch = unequal
        else:
            num_branch = f"{v} {sop} ?"
            params.append(_bindable(number))
        params.append(literal)
        text_branch = f"{v} COLLATE BINARY {sop} ?"
    else:  # text that spells a number is read by Python (sqlite_regexp), as in matches()
        number = _bindable(literal)
        num_branch = f"{v} {sop} ?"
        params.extend([number, _numeric_pattern(op, [number])])
        text_branch = f"({c} REGEXP ?)"
    return f"(CASE WHEN {is_num} THEN {num_branch} WHEN {is_text} THEN {text_branch} ELSE 0 END)"


def _in_sql(column: str, values: Sequence[Value], params: list[Any]) -> str:
    """``field in (...)`` as IN lists: equal to ``OR`` of ``=`` but one short expression."""
    c = column
    any_number: list[int | float] = []  # numbers a numeric value may equal
    literal_number: list[int | float] = []  # numbers a numeric-looking text may equal
    texts: list[str] = []
    for value in values:
        if isinstance(value, str):
            texts.append(value)
            number = _number(value)
            if number is not None:
                any_number.append(_bindable(number))
        else:
            any_number.append(_bindable(value))
            literal_number.append(_bindable(value))

    def marks(items: Sequence[object]) -> str:
        params.extend(items)
        return ", ".join("?" * len(items))

    num_branch = f"+({c}) IN ({marks(any_number)})" if any_number else "0"
    text_parts = []
    if texts:
        text_parts.append(f"+({c}) COLLATE BINARY IN ({marks(texts)})")
    if literal_number:
        params.append(_numeric_pattern("in", literal_number))
        text_parts.append(f"({c} REGEXP ?)")
    text_branch = " OR ".join(text_parts) or "0"
    return (
        f"(CASE WHEN typeof({c}) IN ('integer', 'real') THEN {num_branch} "
        f"WHEN typeof({c}) = 'text' THEN ({text_branch}) ELSE 0 END)"
    )


def _join(operator: str, parts: list[str]) -> str:
    """Join pairwise into a balanced tree so long lists stay within SQLite's depth limit."""
    if not parts:
        return "1" if operator == "AND" else "0"
    while len(parts) > 1:
        parts = [
            f"({parts[i]} {operator} {parts[i + 1]})" if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0]


def _sql(
    node: Node,
    column: Callable[[Field], str],
    params: list[Any],
    numeric: Callable[[Field], bool],
) -> str:
    if isinstance(node, Compare):
        field = _resolve(node.field, node.value)
        if node.op not in ("~", "!~") and numeric(field):
            return _numeric_compare_sql(column(field), node.op, node.value, params)
        return _compare_sql(column(field), node.op, node.value, params)
    if isinstance(node, In):
        groups: dict[Field, list[Value]] = {}  # `set` splits into its number and its name
        for value in node.values:
            groups.setdefault(_resolve(node.field, value), []).append(value)
        return _join("OR", [_in_sql(column(f), vs, params) for f, vs in groups.items()])
    if isinstance(node, Exists):
        return f"({column(node.field)} IS {'NOT ' if node.present else ''}NULL)"
    if isinstance(node, And):
        return _join("AND", [_sql(item, column, params, numeric) for item in node.items])
    if isinstance(node, Or):
        return _join("OR", [_sql(item, column, params, numeric) for item in node.items])
    if isinstance(node, Not):
        return f"(NOT {_sql(node.item, column, params, numeric)})"
    raise TypeError(f"not a query node: {node!r}")


def to_sql(
    node: Node,
    column: Callable[[Field], str],
    numeric: Callable[[Field], bool] | None = None,
) -> tuple[str, list[Any]]:
    """An SQLite WHERE fragment (``?`` placeholders) and its parameters, same semantics as matches.

    ``column(field)`` returns an SQL expression for the field's value in the current row, typed
    as JSON would be (INTEGER/REAL/TEXT, booleans as 1/0, lists/objects as compact JSON text,
    NULL when missing) -- ``json_extract`` or a column without type affinity does this. It is
    also called with :data:`SET_NAME` when ``set`` is compared with a string. Put keys into the
    SQL with :func:`sql_quote`. The connection needs ``REGEXP`` bound to :func:`sqlite_regexp`
    (even without ``~``: it also reads numbers written as text, exactly as Python does).

    ``numeric(field)`` may say that a field's column holds only numbers or NULL (metrics
    always do): its comparisons then compile to plain ``col > ?`` that SQLite can index.
    """
    params: list[Any] = []
    return _sql(node, column, params, numeric or (lambda field: False)), params
