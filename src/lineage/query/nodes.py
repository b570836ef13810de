"""The filter language's tree: frozen dataclasses for conditions, each printing back as query text.

``str(node)`` is query text: :func:`lineage.query.parse` reads it back to an equal node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KINDS = ("top", "params", "metrics", "tags")

#: Canonical comparison operators (``==`` is read as ``=``, ``<>`` as ``!=``).
OPERATORS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=", "~", "!~")

_BARE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", re.ASCII)
_INT64 = 2**63

Value = int | float | str | bool


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


#: A number literal's value (the tokenizer's, and a numeric string's in evaluate).
def _number_value(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    value = int(text)
    return value if -_INT64 <= value < _INT64 else float(value)
