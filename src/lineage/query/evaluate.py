"""The filter language evaluated in Python, against an experiment.json-shaped record."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from .nodes import (
    _SET,
    SET_NAME,
    And,
    Compare,
    Exists,
    Field,
    In,
    Node,
    Not,
    Or,
    Value,
    _number_value,
)

#: A string "is a number" when it matches this; text around it (even a space) makes it text.
_NUMERIC_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


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
