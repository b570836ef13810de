"""A small, safe filter language over experiment records (see docs/query.md).

    metrics.f1 > 0.8 and params.max_depth >= 10
    tags.team = 'nlp' or name ~ 'forest'
    not (metrics.loss < 0.1 or params.lr = 0.01)

:func:`parse` (``parser``, over the tokens of ``lexer``) turns text into a tree of immutable
nodes (``nodes``) with a hand-written recursive-descent parser (never ``eval``).
:func:`matches` (``evaluate``) evaluates the tree against an ``experiment.json``-shaped record;
:func:`to_sql` (``sql``) turns it into an SQLite ``WHERE`` fragment with the same semantics.
Everything is imported from here: ``from lineage import query; query.parse(...)``.

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

from ..errors import QueryError as QueryError
from .evaluate import field_value, matches, scalar
from .nodes import OPERATORS, SET_NAME, And, Compare, Exists, Field, In, Node, Not, Or
from .nodes import Value as Value
from .parser import (
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    TOP_LEVEL_FIELDS,
    parse,
    parse_field,
    parse_order_by,
)
from .sql import sql_quote, sqlite_regexp, to_sql

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
