"""The filter language's tree: immutable values for conditions, each printing back as query text.

``str(node)`` is query text: :func:`lineage.query.parse` reads it back to an equal node.
The classes behave like frozen dataclasses (equal by value, hashable, immutable, a readable
repr) without being ones: ``@dataclass`` costs ~9 ms of import (``inspect``, and code
generated per class), a third of a short training script's whole tracking cost, and the
index loads this module on every registration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_KINDS = ("top", "params", "metrics", "tags")

#: Canonical comparison operators (``==`` is read as ``=``, ``<>`` as ``!=``).
OPERATORS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=", "~", "!~")

_BARE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", re.ASCII)
_INT64 = 2**63

Value = int | float | str | bool


class _Frozen:
    """Equality, hashing, repr and immutability from ``__slots__``, as a frozen dataclass has."""

    __slots__: tuple[str, ...] = ()

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._values())


class Field(_Frozen):
    """A field of an experiment record: ``Field("metrics", "f1")`` or ``Field("top", "name")``."""

    __slots__ = ("kind", "key")
    kind: str  # "top" | "params" | "metrics" | "tags"
    key: str

    def __init__(self, kind: str, key: str) -> None:
        self._set(kind=kind, key=key)
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


class Compare(_Frozen):
    """``field op value``; ``op`` is one of :data:`OPERATORS`, ``value`` never None."""

    __slots__ = ("field", "op", "value")
    field: Field
    op: str
    value: Value

    def __init__(self, field: Field, op: str, value: Value) -> None:
        self._set(field=field, op=op, value=value)
        if self.op not in OPERATORS:
            raise ValueError(f"op must be one of {', '.join(OPERATORS)}, not {self.op!r}")
        _check_value(self.value)
        if self.op in ("~", "!~") and (not isinstance(self.value, str) or "\x00" in self.value):
            raise ValueError(f"{self.op} needs a string pattern without NUL, not {self.value!r}")

    def __str__(self) -> str:
        return f"{self.field} {self.op} {_format_value(self.value)}"


class In(_Frozen):
    """``field in (v1, v2, ...)``: equal (``=``) to any of the values."""

    __slots__ = ("field", "values")
    field: Field
    values: tuple[Value, ...]

    def __init__(self, field: Field, values: Iterable[Value]) -> None:
        self._set(field=field, values=tuple(values))
        if not self.values:
            raise ValueError("In needs at least one value")
        for value in self.values:
            _check_value(value)

    def __str__(self) -> str:
        return f"{self.field} in ({', '.join(_format_value(v) for v in self.values)})"


class Exists(_Frozen):
    """``field exists`` (present=True) or ``field is null`` (present=False)."""

    __slots__ = ("field", "present")
    field: Field
    present: bool

    def __init__(self, field: Field, present: bool = True) -> None:
        self._set(field=field, present=present)

    def __str__(self) -> str:
        return f"{self.field} {'exists' if self.present else 'not exists'}"


class And(_Frozen):
    """All of the items."""

    __slots__ = ("items",)
    items: tuple[Node, ...]

    def __init__(self, items: Iterable[Node]) -> None:
        self._set(items=tuple(items))

    def __str__(self) -> str:
        return " and ".join(_format_operand(item, (And, Or)) for item in self.items)


class Or(_Frozen):
    """Any of the items."""

    __slots__ = ("items",)
    items: tuple[Node, ...]

    def __init__(self, items: Iterable[Node]) -> None:
        self._set(items=tuple(items))

    def __str__(self) -> str:
        return " or ".join(_format_operand(item, Or) for item in self.items)


class Not(_Frozen):
    """The negation of the item (two-valued: a comparison on a missing field is false)."""

    __slots__ = ("item",)
    item: Node

    def __init__(self, item: Node) -> None:
        self._set(item=item)

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
