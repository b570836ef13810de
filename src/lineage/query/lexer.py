"""The filter language's tokenizer: query text into tokens, or a QueryError saying where."""

from __future__ import annotations

import re

from ..errors import QueryError
from .nodes import _number_value

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

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*", re.ASCII)
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.+\-]*", re.ASCII)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


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
