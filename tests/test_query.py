"""The filter language: parsing, errors, matches() and to_sql() agreeing on a real SQLite."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator, Mapping

import pytest

from lineage.errors import QueryError
from lineage.query import (
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    And,
    Compare,
    Exists,
    Field,
    In,
    Node,
    Not,
    Or,
    field_value,
    matches,
    parse,
    parse_field,
    parse_order_by,
    scalar,
    sql_quote,
    sqlite_regexp,
    to_sql,
)

M = Field("metrics", "f1")
DEPTH = Field("params", "max_depth")
NAME = Field("top", "name")

RECORDS: list[dict] = [
    {
        "id": "e1",
        "name": "Random Forest",
        "description": "baseline forest",
        "status": "registered",
        "number": 1,
        "set": {"number": 1, "name": "fraud", "id": "s1"},
        "model_version": "0.0.1",
        "data_version": "0.0.2",
        "hyperparameters": {
            "max_depth": 10,
            "kernel": "rbf",
            "lr": 0.01,
            "use_bias": True,
            "model": {"depth": 3},
            "layers": [64, 32],
        },
        "metrics": {"f1": 0.85, "loss": 0.2, "macro avg": 0.8, "weighted_f1": 0.9},
        "tags": {"team": "nlp"},
        "created": "2024-01-05T10:00:00+00:00",
        "ended": "2024-01-05T10:05:00+00:00",
        "duration": 300.5,
    },
    {
        "id": "e2",
        "name": "forest-v2",
        "description": "deeper",
        "status": "running",
        "number": 2,
        "set": {"number": 1, "name": "fraud", "id": "s1"},
        "model_version": "0.0.2",
        "data_version": "0.0.10",
        "hyperparameters": {"max_depth": "10", "kernel": "linear", "lr": "0.1", "use_bias": False},
        "metrics": {"f1": 0.75, "loss": 0.05},
        "tags": {"team": "NLP"},
        "created": "2024-01-20T08:00:00+00:00",
        "ended": None,
        "duration": None,
    },
    {
        "id": "e3",
        "name": "SVM",
        "description": None,
        "status": "failed",
        "number": 3,
        "set": {"number": 2, "name": "churn", "id": "s2"},
        "model_version": "0.0.1",
        "data_version": "0.0.2",
        "hyperparameters": {
            "max_depth": 5,
            "kernel": "poly",
            "lr": 0.001,
            "use_bias": 1,
            "my key": "x",
        },
        "metrics": {"f1": "0.95", "loss": 0.01},
        "tags": {},
        "created": "2024-02-01T00:00:00+00:00",
        "ended": "2024-02-01T00:00:01+00:00",
        "duration": 1.25,
    },
    {
        "id": "e4",
        "name": "logistic regression",
        "status": "registered",
        "number": 4,
        "set": {"number": 2, "name": "churn", "id": "s2"},
        "model_version": "1.0.0",
        "data_version": "0.0.3",
        "hyperparameters": {"max_depth": "deep", "kernel": 3, "lr": 0.01},
        "metrics": {"f1": 0.8},
        "created": "2023-12-31T23:59:59+00:00",
        "duration": 12.0,
    },
    {
        "id": "e5",
        "name": "empty",
        "status": "registered",
        "number": 5,
        "set": {"number": 3, "name": "3", "id": "s3"},
        "hyperparameters": {},
        "metrics": {},
        "tags": {"team": None},
        "created": "2024-03-01T00:00:00+00:00",
        "duration": "(none)",  # text in a REAL column: SQL must not convert '5' to 5.0
    },
    {
        "id": "e6",
        "name": "O'Brien model",
        "description": "quote's",
        "status": "registered",
        "number": 6,
        "set": {"number": 3, "name": "3", "id": "s3"},
        "hyperparameters": {"max_depth": 10.0, "kernel": "RBF", "lr": "1e-2", "use_bias": "true"},
        "metrics": {"f1": 1.0, "loss": -0.5},
        "tags": {"team": "vision", "x": "10"},
        "created": "2024-03-02T00:00:00+00:00",
        "duration": 0.0,
    },
]

# --------------------------------------------------------------------------- SQLite fixture

SCHEMA = """
CREATE TABLE experiments (
    id TEXT PRIMARY KEY, name TEXT COLLATE NOCASE, description TEXT, status TEXT,
    model_version TEXT, data_version TEXT, number INTEGER, set_number INTEGER, set_name TEXT,
    created TEXT, ended TEXT, duration REAL, metrics TEXT, tags TEXT
);
CREATE TABLE params (experiment_id TEXT, key TEXT, value);  -- no affinity: keeps JSON types
CREATE INDEX params_by_key ON params (experiment_id, key);
"""


def _flatten(params: Mapping, prefix: str = "") -> Iterator[tuple[str, object]]:
    for key, value in params.items():
        if isinstance(value, (list, dict)):
            yield prefix + key, json.dumps(value, separators=(",", ":"))
        else:
            yield prefix + key, value
        if isinstance(value, dict):
            yield from _flatten(value, prefix + key + ".")


def make_db(records: list[dict]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.create_function("REGEXP", 2, sqlite_regexp, deterministic=True)
    conn.executescript(SCHEMA)
    for r in records:
        s = r.get("set") or {}
        conn.execute(
            "INSERT INTO experiments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                r["id"],
                r.get("name"),
                r.get("description"),
                r.get("status"),
                r.get("model_version"),
                r.get("data_version"),
                r.get("number"),
                s.get("number"),
                s.get("name"),
                r.get("created"),
                r.get("ended"),
                r.get("duration"),
                json.dumps(r["metrics"]) if "metrics" in r else None,
                json.dumps(r["tags"]) if "tags" in r else None,
            ),
        )
        for key, value in _flatten(r.get("hyperparameters", {})):
            conn.execute("INSERT INTO params VALUES (?,?,?)", (r["id"], key, value))
    return conn


def column(field: Field) -> str:
    """Plain columns, a key-value table for params, JSON columns for metrics and tags."""
    if field.kind == "top":
        return {"set": "e.set_number", "set_name": "e.set_name"}.get(field.key, f"e.{field.key}")
    if field.kind == "params":
        return (
            "(SELECT p.value FROM params p WHERE p.experiment_id = e.id "
            f"AND p.key = {sql_quote(field.key)})"
        )
    return f"json_extract(e.{field.kind}, {sql_quote(chr(36) + '.' + json.dumps(field.key))})"


def sql_ids(conn: sqlite3.Connection, node: Node) -> set[str]:
    where, params = to_sql(node, column)
    rows = conn.execute(f"SELECT e.id FROM experiments e WHERE {where}", params).fetchall()
    return {row[0] for row in rows}


def py_ids(records: list[dict], node: Node) -> set[str]:
    return {r["id"] for r in records if matches(node, r)}


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = make_db(RECORDS)
    yield conn
    conn.close()


def ids(query: str) -> set[str]:
    return py_ids(RECORDS, parse(query))


# --------------------------------------------------------------------------- parser


def test_comparison_parses_to_compare_node():
    assert parse("metrics.f1 > 0.8") == Compare(M, ">", 0.8)


def test_and_binds_tighter_than_or():
    assert parse("number = 1 or number = 2 and number = 3") == Or(
        (
            Compare(Field("top", "number"), "=", 1),
            And((Compare(Field("top", "number"), "=", 2), Compare(Field("top", "number"), "=", 3))),
        )
    )


def test_not_binds_tighter_than_and():
    a, b = Compare(M, ">", 0.8), Compare(DEPTH, "=", 3)
    assert parse("not metrics.f1 > 0.8 and params.max_depth = 3") == And((Not(a), b))


def test_parentheses_override_precedence():
    a, b, c = Compare(M, "=", 1), Compare(M, "=", 2), Compare(M, "=", 3)
    assert parse("(metrics.f1 = 1 or metrics.f1 = 2) and metrics.f1 = 3") == And((Or((a, b)), c))
    assert parse("not (metrics.f1 = 1 or metrics.f1 = 2)") == Not(Or((a, b)))


def test_keywords_are_case_insensitive():
    assert parse("NUMBER = 1 AnD NOT metrics.f1 > 0 Or tags.team IS NOT NULL") == parse(
        "number = 1 and not metrics.f1 > 0 or tags.team is not null"
    )


@pytest.mark.parametrize(
    ("spelling", "op"),
    [
        ("=", "="),
        ("==", "="),
        ("!=", "!="),
        ("<>", "!="),
        ("<", "<"),
        ("<=", "<="),
        (">", ">"),
        (">=", ">="),
        ("~", "~"),
        ("!~", "!~"),
    ],
)
def test_every_operator_spelling_parses_to_its_canonical_op(spelling: str, op: str):
    assert parse(f"name {spelling} 'x'") == Compare(NAME, op, "x")


def test_operators_need_no_spaces():
    assert parse("number>=3") == Compare(Field("top", "number"), ">=", 3)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("-3", -3),
        ("0.8", 0.8),
        ("-1.5e-3", -0.0015),
        ("1E3", 1000.0),
        (".5", 0.5),
        ("'a b'", "a b"),
        ('"nlp"', "nlp"),
        (r"'it\'s'", "it's"),
        ("'it''s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'a\\b'", "a\\b"),
        (r"'tab\there'", "tab\there"),
        (r"'\d+'", r"\d+"),
        ("true", True),
        ("FALSE", False),
    ],
)
def test_values_parse_to_python_values(text: str, value: object):
    node = parse(f"params.x = {text}")
    assert isinstance(node, Compare)
    assert node.value == value and type(node.value) is type(value)


def test_integers_beyond_int64_become_floats():
    node = parse("number = 99999999999999999999")
    assert isinstance(node, Compare) and node.value == 1e20 and isinstance(node.value, float)


def test_null_comparisons_are_presence_tests():
    f = Field("tags", "team")
    assert parse("tags.team = null") == Exists(f, False)
    assert parse("tags.team != null") == Exists(f, True)
    assert parse("tags.team is null") == Exists(f, False)
    assert parse("tags.team is not null") == Exists(f, True)
    assert parse("tags.team exists") == Exists(f, True)
    assert parse("tags.team not exists") == Exists(f, False)


def test_in_lists_values_and_not_in_means_unequal_to_each():
    k = Field("params", "kernel")
    assert parse("params.kernel in ('rbf', 'linear',)") == In(k, ("rbf", "linear"))
    assert parse("params.kernel not in ('rbf', 3)") == And(
        (Compare(k, "!=", "rbf"), Compare(k, "!=", 3))
    )


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name", Field("top", "name")),
        ("Status", Field("top", "status")),
        ("set", Field("top", "set")),
        ("metrics.f1", Field("metrics", "f1")),
        ("metrics.weighted_f1", Field("metrics", "weighted_f1")),
        ("params.model.depth", Field("params", "model.depth")),
        ("params.learning-rate", Field("params", "learning-rate")),
        ("hyperparameters.lr", Field("params", "lr")),
        ("tags.team", Field("tags", "team")),
        ("metrics.`macro avg`", Field("metrics", "macro avg")),
        ("`params.my key`", Field("params", "my key")),
        ("tags.`odd``name`", Field("tags", "odd`name")),
    ],
)
def test_parse_field_reads_prefixes_keys_and_backquotes(text: str, field: Field):
    assert parse_field(text) == field
    assert parse_field(str(field)) == field


def test_parse_field_lists_valid_names_for_unknown_field():
    with pytest.raises(QueryError) as info:
        parse_field("accuracy")
    message = str(info.value)
    assert "unknown field 'accuracy'" in message
    for name in ("name", "status", "data_version", "duration", "params.<key>", "metrics.<key>"):
        assert name in message


def test_unknown_field_suggests_close_name():
    with pytest.raises(QueryError, match="did you mean 'metrics.f1'"):
        parse("metric.f1 > 1")


def test_nodes_reject_values_the_language_cannot_express():
    with pytest.raises(ValueError):
        Field("bogus", "x")
    with pytest.raises(ValueError):
        Compare(M, "=", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Compare(M, "like", 1)
    with pytest.raises(ValueError):
        Compare(M, "~", 1)
    with pytest.raises(ValueError):
        In(M, ())


def test_str_of_a_node_parses_back_to_it():
    text = (
        "not (metrics.f1 > 0.8 or params.`my key` ~ '\\\\d') and tags.team in ('a''b', 1, true) "
        "and name not exists"
    )
    node = parse(text)
    assert parse(str(node)) == node


def test_eval_style_input_is_rejected():
    with pytest.raises(QueryError):
        parse("__import__('os').system('true')")


# --------------------------------------------------------------------------- errors


def error(query: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(query)
    return info.value


@pytest.mark.parametrize(
    ("query", "position", "text"),
    [
        ("metrics.f1 >", 12, "expected a value after '>'"),
        ("metrics.f1 > and number = 1", 13, "expected a value after '>'"),
        ("metrics.f1 => 3", 11, "unknown operator '=>'"),
        ("metrics.f1 ! 3", 11, "unknown operator '!'"),
        ("name = 'forest", 7, "unterminated string"),
        ('name = "forest', 7, "unterminated string"),
        ("(number = 1 or number = 2", 0, "unbalanced parenthesis"),
        ("number = 1)", 10, "unbalanced parenthesis"),
        ("((number = 1)", 0, "unbalanced parenthesis"),
        ("number = 1 number = 2", 11, "expected 'and', 'or' or the end of the query"),
        ("(number = 1 number = 2)", 12, "expected 'and', 'or' or ')'"),
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("name ~ '(unclosed'", 7, "invalid regular expression"),
        ("name ~ 3", 7, "expected a regular expression in quotes after '~'"),
        ("status = registered", 9, "put text in quotes: 'registered'"),
        ("metrics.f1 > metrics.loss", 13, "comparing two fields is not supported"),
        ("f1 > 0.8", 0, "unknown field 'f1'"),
        ("metrics. > 1", 8, "expected a key after 'metrics.'"),
        ("metrics > 1", 0, "expected a key after 'metrics'"),
        ("number = 1 and", 14, "expected a condition after 'and'"),
        ("and number = 1", 0, "expected a field name"),
        ("()", 1, "expected a condition inside the parentheses"),
        ("number 3", 7, "expected an operator after 'number'"),
        ("number is 3", 10, "expected 'null' after 'is'"),
        ("number not 3", 11, "expected 'in' or 'exists' after 'not'"),
        ("number in 3", 10, "expected '(' after 'in'"),
        ("number in ()", 11, "expected a value after '('"),
        ("number in (1 2)", 13, "expected ',' or ')' in the list"),
        ("number in (1, 2", 10, "unbalanced parenthesis"),
        ("number in (1, null)", 14, "null is not allowed in a list"),
        ("number < null", 9, "null can only be compared with = or !="),
        ("number = 1.2.3", 9, "invalid number '1.2.3'"),
        ("data_version = 0.0.2", 15, "put text in quotes: '0.0.2'"),
        ("number = 1 & number = 2", 11, "use 'and' / 'or'"),
        ("`` = 1", 0, "empty name in backquotes"),
        ("metrics.`f1 = 1", 8, "unterminated backquoted name"),
    ],
)
def test_errors_point_at_the_position_and_say_what_was_expected(
    query: str, position: int, text: str
):
    exc = error(query)
    assert text in str(exc)
    assert exc.position == position
    assert exc.query == query
    if query:
        assert f"at position {position}:" in str(exc)
        assert str(exc).splitlines()[-1] == "  " + " " * position + "^"


def test_query_error_is_a_value_error():
    assert isinstance(error("number ="), ValueError)


def test_overlong_query_is_refused():
    exc = error("number = 1 or " * (MAX_QUERY_LENGTH // 14) + "number = 1")
    assert "too long" in str(exc)


def test_deep_parentheses_give_query_error_not_recursion_error():
    exc = error("(" * 500 + "number = 1" + ")" * 500)
    assert "nested too deeply" in str(exc) and exc.position == MAX_DEPTH


def test_long_not_chain_gives_query_error():
    assert "nested too deeply" in str(error("not " * 1000 + "number = 1"))


def test_nesting_up_to_the_limit_is_accepted():
    node = parse("(" * MAX_DEPTH + "number = 1" + ")" * MAX_DEPTH)
    assert node == Compare(Field("top", "number"), "=", 1)


def test_nul_character_is_refused():
    assert "NUL" in str(error("name = 'a\x00'"))


def test_non_string_query_is_a_type_error():
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- order by


def test_order_by_reads_minus_and_asc_desc():
    assert parse_order_by("-metrics.f1, params.max_depth, name DESC, number asc") == [
        (M, True),
        (DEPTH, False),
        (NAME, True),
        (Field("top", "number"), False),
    ]


def test_order_by_accepts_a_list_and_none():
    assert parse_order_by(["-metrics.`macro avg`", "set"]) == [
        (Field("metrics", "macro avg"), True),
        (Field("top", "set"), False),
    ]
    assert parse_order_by(None) == [] and parse_order_by("") == []


@pytest.mark.parametrize(
    ("spec", "position", "text"),
    [
        ("metrics.f1,", 11, "expected a field name"),
        ("-metrics.f1 desc", 12, "not both"),
        ("metrics.f1 sideways", 11, "expected ',', 'asc', 'desc'"),
        ("accuracy", 0, "unknown field 'accuracy'"),
    ],
)
def test_order_by_errors_point_at_the_problem(spec: str, position: int, text: str):
    with pytest.raises(QueryError) as info:
        parse_order_by(spec)
    assert text in str(info.value) and info.value.position == position


# --------------------------------------------------------------------------- matches()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metrics.f1 > 0.8 and params.max_depth >= 10", {"e1", "e6"}),
        ("data_version = '0.0.2'", {"e1", "e3"}),
        ('tags.team = "nlp"', {"e1"}),
        ("tags.team ~ '^nlp$'", {"e1", "e2"}),
        ("name ~ 'forest'", {"e1", "e2"}),
        ("name !~ 'forest'", {"e3", "e4", "e5", "e6"}),
        ("status = 'registered'", {"e1", "e4", "e5", "e6"}),
        ("not (metrics.loss < 0.1 or params.lr = 0.01)", {"e5"}),
        ("params.kernel in ('rbf', 'linear')", {"e1", "e2"}),
        ("metrics.f1 exists", {"e1", "e2", "e3", "e4", "e6"}),
        ("tags.team is null", {"e3", "e4", "e5"}),
        ("params.use_bias = true", {"e1", "e3"}),
        ("params.use_bias = false", {"e2"}),
        ("number >= 3", {"e3", "e4", "e5", "e6"}),
        ("set = 'churn'", {"e3", "e4"}),
        ("set = 2", {"e3", "e4"}),
        ("set in (1, '3')", {"e1", "e2", "e5", "e6"}),
        ("params.model.depth = 3", {"e1"}),
        ("`params.my key` = 'x'", {"e3"}),
        ("metrics.`macro avg` >= 0.8", {"e1"}),
        ("created >= '2024-01-01' and created < '2024-02'", {"e1", "e2"}),
        ("duration > 100", {"e1"}),
        ("id = 'e3'", {"e3"}),
    ],
)
def test_matches_selects_the_expected_records(query: str, expected: set[str]):
    assert ids(query) == expected


def test_number_and_numeric_string_match_either_way():
    # max_depth is 10 (e1), "10" (e2) and 10.0 (e6)
    assert ids("params.max_depth = 10") == {"e1", "e2", "e6"}
    assert ids("params.max_depth = '10'") == {"e1", "e2", "e6"}
    assert ids("params.max_depth > 9.5") == {"e1", "e2", "e6"}
    assert ids("tags.x = 10") == {"e6"}


def test_strings_compare_as_strings():
    assert ids("data_version < '0.0.2'") == {"e2"}  # "0.0.10" < "0.0.2" as text
    assert ids("params.max_depth = '10.0'") == {"e1", "e6"}  # "10" != "10.0" as text


def test_number_and_non_numeric_string_are_unequal_and_unordered():
    assert "e4" not in ids("params.max_depth > 0")  # "deep"
    assert "e4" not in ids("params.max_depth < 0")
    assert "e4" in ids("params.max_depth != 10")
    assert "e6" not in ids("params.use_bias = true")  # the string "true" is not a boolean


def test_missing_field_makes_every_comparison_false_and_not_true():
    assert "e5" not in ids("params.max_depth != 10")
    assert "e5" not in ids("params.kernel !~ 'x'")
    assert "e5" in ids("not params.max_depth = 10")
    assert "e5" not in ids("params.max_depth not in (1, 2)")


def test_text_with_spaces_or_other_digits_is_not_a_number():
    record = {"id": "r", "hyperparameters": {"a": " 5", "b": "5\n", "c": "\uff15", "d": "0x5"}}
    for key in "abcd":
        assert not matches(parse(f"params.{key} = 5"), record)
        assert matches(parse(f"params.{key} != 5"), record)


def test_equality_is_case_sensitive_and_regex_is_not():
    assert ids("name = 'random forest'") == set()
    assert ids("name ~ 'RANDOM'") == {"e1"}


def test_regex_searches_the_string_form_of_numbers_and_lists():
    assert ids("number ~ '^[12]$'") == {"e1", "e2"}
    assert ids("params.layers ~ '^\\[64,32\\]$'") == {"e1"}


def test_field_value_reads_record_shapes():
    r = RECORDS[0]
    assert field_value(Field("top", "set"), r) == 1
    assert field_value(Field("top", "set_name"), r) == "fraud"
    assert field_value(Field("params", "model.depth"), r) == 3
    assert field_value(Field("metrics", "macro avg"), r) == 0.8
    assert field_value(Field("tags", "nope"), r) is None
    assert field_value(Field("params", "lr"), {"params": {"lr": 1}}) == 1


def test_scalar_gives_values_as_filters_see_them():
    assert [scalar(v) for v in (True, 3, 0.5, "x", None, float("nan"))] == [
        1,
        3,
        0.5,
        "x",
        None,
        None,
    ]
    assert scalar([64, 32]) == "[64,32]" and scalar({"a": "é"}) == '{"a":"é"}'


def test_sqlite_regexp_is_case_insensitive_search():
    assert sqlite_regexp("FOR", "Random forest") and sqlite_regexp("^1", 12)
    assert not sqlite_regexp("x", None)


# --------------------------------------------------------------------------- to_sql()

EQUIVALENCE_QUERIES = [
    "metrics.f1 > 0.8 and params.max_depth >= 10",
    "data_version = '0.0.2'",
    'tags.team = "nlp"',
    "name ~ 'forest'",
    "name !~ 'forest'",
    "status = 'registered'",
    "not (metrics.loss < 0.1 or params.lr = 0.01)",
    "params.kernel in ('rbf', 'linear')",
    "params.kernel not in ('rbf', 'poly')",
    "metrics.f1 exists",
    "tags.team is null",
    "tags.team not exists",
    "params.use_bias = true",
    "params.use_bias != false",
    "number >= 3",
    "params.max_depth = 10",
    "params.max_depth = '10'",
    "params.max_depth = '10.0'",
    "params.max_depth != 10",
    "params.max_depth > 5",
    "params.max_depth < 'e'",
    "params.lr = 0.01",
    "params.lr = '1e-2'",
    "params.lr < 0.05",
    "params.kernel = 3",
    "params.kernel != 'rbf'",
    "params.kernel ~ '^rbf$'",
    "name = 'random forest'",  # the column is COLLATE NOCASE; = must stay case-sensitive
    "name < 'S'",
    "name = 'O''Brien model'",
    "description ~ 'quote''s'",
    "set = 1",
    "set = 'churn'",
    "set = '3'",
    "set != 1",
    "set in (2, 'fraud')",
    "created >= '2024-01-01' and created < '2024-02'",
    "duration > 1 or duration = 0",
    "duration ~ '^12'",
    "duration < '5'",
    "duration in (0, '(none)', 1.25)",
    "metrics.`macro avg` >= 0.8",
    "metrics.f1 = '0.95'",
    "metrics.f1 > '0.9'",
    "metrics.loss < 0",
    "`params.my key` = 'x'",
    "params.model.depth = 3",
    "params.model ~ 'depth'",
    "params.layers = '[64,32]'",
    "tags.x = 10",
    "tags.x > 9.5",
    "number ~ '^[12]$'",
    "not metrics.f1 > 0.8",
    "NOT (metrics.f1 > 0.8) AND status == 'registered' OR number = 5",
    "model_version <> '0.0.1'",
    "id = 'e3'",
]


@pytest.mark.parametrize("query", EQUIVALENCE_QUERIES)
def test_to_sql_selects_exactly_what_matches_selects(db: sqlite3.Connection, query: str):
    node = parse(query)
    assert sql_ids(db, node) == py_ids(RECORDS, node)


def test_equivalence_queries_are_not_trivial(db: sqlite3.Connection):
    sizes = {len(py_ids(RECORDS, parse(q))) for q in EQUIVALENCE_QUERIES}
    assert 0 in sizes and len(sizes) >= 4  # some select none, most select a proper subset


def test_injection_attempt_matches_nothing(db: sqlite3.Connection):
    node = parse("name = 'x'' or 1=1 --'")
    assert node == Compare(NAME, "=", "x' or 1=1 --")
    assert sql_ids(db, node) == set() == py_ids(RECORDS, node)
    assert db.execute("SELECT count(*) FROM experiments").fetchone()[0] == len(RECORDS)


def test_to_sql_uses_placeholders_not_literals():
    where, params = to_sql(parse("name = 'secret' and metrics.f1 > 0.5"), column)
    assert "secret" not in where and "secret" in params and 0.5 in params


def test_to_sql_stays_within_sqlite_limits_for_maximal_flat_queries(db: sqlite3.Connection):
    many_ors = parse(" or ".join(["number=1"] * 800))
    many_values = parse("number in (" + ",".join(["2"] * 4900) + ")")
    assert sql_ids(db, many_ors) == {"e1"}
    assert sql_ids(db, many_values) == {"e2"}


# Random and exhaustive cross-checks use a seeded generator: repeatable, fast, no cache on disk.

FIELDS = [
    NAME, Field("top", "number"), Field("top", "set"), Field("top", "duration"),
    Field("top", "description"), Field("top", "data_version"), DEPTH, Field("params", "kernel"),
    Field("params", "lr"), Field("params", "use_bias"), Field("params", "model.depth"), M,
    Field("metrics", "macro avg"), Field("tags", "team"), Field("tags", "x"),
]  # fmt: skip
LITERALS: list[int | float | str | bool] = [
    10, "10", 10.0, "1e1", 0.01, "0.01", "1e-2", True, False, "rbf", "RBF", "nlp", "fraud", 1, 2,
    "2", "", "deep", -0.5, 0.8, "0.95", 3, "3", "0.0.2", "true", "Random Forest", "(none)", 1e999,
    -7, 1.25, "1.25", "O'Brien model", "\\d", "é",
]  # fmt: skip
PATTERNS = ["forest", "^r", "1", "nlp", "0\\.", "^$", "e$", "[0-9]{2}", "'"]
COMPARISONS = ["=", "!=", "<", "<=", ">", ">="]


def random_node(rng: random.Random, depth: int = 0) -> Node:
    roll = rng.random() if depth < 3 else 1.0
    if roll < 0.15:
        return And(tuple(random_node(rng, depth + 1) for _ in range(rng.randint(2, 3))))
    if roll < 0.3:
        return Or(tuple(random_node(rng, depth + 1) for _ in range(rng.randint(2, 3))))
    if roll < 0.4:
        return Not(random_node(rng, depth + 1))
    field = rng.choice(FIELDS)
    kind = rng.random()
    if kind < 0.6:
        return Compare(field, rng.choice(COMPARISONS), rng.choice(LITERALS))
    if kind < 0.75:
        return Compare(field, rng.choice(["~", "!~"]), rng.choice(PATTERNS))
    if kind < 0.9:
        return In(field, tuple(rng.sample(LITERALS, rng.randint(1, 3))))
    return Exists(field, rng.random() < 0.5)


RANDOM_NODES = [random_node(random.Random(seed)) for seed in range(400)]


def test_random_queries_select_the_same_records_in_sql_and_python(db: sqlite3.Connection):
    for node in RANDOM_NODES:
        assert sql_ids(db, node) == py_ids(RECORDS, node), str(node)


def test_random_queries_print_and_parse_back_unchanged():
    for node in RANDOM_NODES:
        assert parse(str(node)) == node, str(node)


def _awkward_values() -> list[object]:
    rng = random.Random(7)
    values: list[object] = [
        None, True, False, 0, 10, -3, 10.0, 0.1, 1e300, -0.0, 2**53 + 1, "10", "10.0", "+5", ".5",
        "5.", "007", "1e3", "1E-2", " 5", "5 ", "5\n", "0x10", "1_000", "inf", "nan", "-0",
        "\uff11\uff12", "abc", "", "ABC", [1, 2], {"a": 1}, "1e400", "99999999999999999999",
        "286.843356", "1.1420936917371647e-302", "0.707056753354459", "10\x00", "é",
    ]  # fmt: skip
    for _ in range(60):  # numbers and numbers written as text, across magnitudes
        x = rng.choice([rng.random(), rng.uniform(-1e6, 1e6), 10 ** rng.uniform(-300, 300)])
        values += [x, repr(x), round(x, rng.randint(0, 6))]
    return values


AWKWARD = _awkward_values()


def test_every_comparison_agrees_on_awkward_values():
    records = [{"id": str(i), "hyperparameters": {"v": v}} for i, v in enumerate(AWKWARD)]
    conn = make_db(records)
    try:
        field = Field("params", "v")
        literals = [v for v in AWKWARD if isinstance(v, (int, float, str)) and "\x00" not in str(v)]
        for literal in [*LITERALS, *literals[::3]]:
            for op in COMPARISONS:
                node = Compare(field, op, literal)
                assert sql_ids(conn, node) == py_ids(records, node), str(node)
                assert sql_ids(conn, Not(node)) == py_ids(records, Not(node)), str(node)
            listed = In(field, (literal, "abc", 7))
            assert sql_ids(conn, listed) == py_ids(records, listed), str(listed)
    finally:
        conn.close()


def test_numbers_written_as_text_are_read_exactly_in_sql():
    # SQLite's own text-to-float conversion can be one bit off for values like these
    records = [{"id": "a", "hyperparameters": {"v": "286.843356"}},
               {"id": "b", "hyperparameters": {"v": "1.1420936917371647e-302"}}]  # fmt: skip
    conn = make_db(records)
    cases = [
        ("params.v = 286.843356", {"a"}),
        ("params.v = 1.1420936917371647e-302", {"b"}),
        ("params.v in (286.843356, 1.1420936917371647e-302)", {"a", "b"}),
    ]
    for query, expected in cases:
        node = parse(query)
        assert sql_ids(conn, node) == py_ids(records, node) == expected
    conn.close()


def test_numeric_hint_keeps_the_semantics_for_columns_of_numbers():
    """Metrics are always numbers, so the index compiles them to plain, indexable SQL."""
    numeric_records = [
        r for r in RECORDS
        if all(isinstance(v, (int, float)) for v in (r.get("metrics") or {}).values())
    ]
    conn = make_db(numeric_records)
    try:
        for query in EQUIVALENCE_QUERIES:
            node = parse(query)
            where, params = to_sql(node, column, numeric=lambda f: f.kind == "metrics")
            rows = conn.execute(f"SELECT e.id FROM experiments e WHERE {where}", params)
            assert {row[0] for row in rows} == py_ids(numeric_records, node), query
    finally:
        conn.close()
    where, _ = to_sql(parse("metrics.f1 > 0.5"), column, numeric=lambda f: f.kind == "metrics")
    assert "CASE" not in where and "REGEXP" not in where


def test_nodes_are_values_equal_hashable_immutable_and_picklable():
    import pickle

    node = parse("metrics.f1 > 0.5 and not (name ~ 'x' or params.max_depth in (1, 2))")
    again = parse(str(node))
    assert node == again and hash(node) == hash(again) and len({node, again}) == 1
    assert node != parse("metrics.f1 > 0.5 or not (name ~ 'x' or params.max_depth in (1, 2))")
    assert pickle.loads(pickle.dumps(node)) == node
    assert repr(M) == "Field(kind='metrics', key='f1')"
    with pytest.raises(AttributeError, match="immutable"):
        M.key = "loss"
    assert M.key == "f1"
