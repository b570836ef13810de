"""The filter language compiled to an SQLite WHERE fragment, and the REGEXP function it needs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from .evaluate import _number, _numeric_compare, _regex, _resolve, scalar
from .nodes import _INT64, And, Compare, Exists, Field, In, Node, Not, Or, Value

#: REGEXP patterns starting with NUL are lineage's own numeric tests (see sqlite_regexp).
_NUMERIC_TEST = "\x00"


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
