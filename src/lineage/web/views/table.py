"""``/sets/N``: a set's experiments, one row each: the landing view.

Everything is in the URL: ``where`` (a filter, docs/query.md), ``sort`` (``-metrics.f1,name``),
``page`` and ``size``, ``cols`` (exactly these columns) or ``hide`` (remove some of the
default ones), and ``dir`` (``loss:max`` when a metric's name guesses its direction wrong).

By default every param that varies across the filtered experiments and every metric is
shown. Counting, the varying params and the best value of each metric are computed over the
whole filtered selection by SQLite; only one page of records is read, so 10,000 rows cost
what 50 do.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ... import columns as cols
from ... import query
from ...comparison import lower_is_better
from ...errors import QueryError
from ...index import KINDS, compile_search, row_id
from ..pages import State, address, int_param, page
from ..security import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_QUERY
from ..steps import read_steps

_KIND_NAMES = {v: k for k, v in KINDS.items()}
SPARK_POINTS = 36
MAX_COLUMNS = 200


def parse_directions(text: str) -> dict[str, str]:
    """``"loss:max,f1:min"`` → ``{"loss": "max", "f1": "min"}`` (other entries ignored)."""
    found: dict[str, str] = {}
    for item in text.split(",")[:50]:
        key, _, way = item.strip().rpartition(":")
        if key and way in ("min", "max"):
            found[key] = way
    return found


def format_directions(directions: dict[str, str]) -> str:
    return ",".join(f"{k}:{v}" for k, v in directions.items())


def _query_error(exc: QueryError, text: str) -> dict[str, Any]:
    return {"message": exc.detail, "position": exc.position, "query": text}


def _top_level(keys: list[str]) -> list[str]:
    """Drop keys the index flattened out of a nested value (``model.depth`` under ``model``)."""
    present = set(keys)
    out = []
    for key in keys:
        parts = key.split(".")
        if any(".".join(parts[:i]) in present for i in range(1, len(parts))):
            continue
        out.append(key)
    return out


def value_of(record: dict[str, Any], field: query.Field) -> Any:
    """A column's value in a record (None when missing)."""
    if field.kind == "top":
        if field.key == "set":
            return record["set"]["number"]
        return record.get(field.key)
    values = record.get(cols.SOURCES[field.kind]) or {}
    return values.get(field.key) if isinstance(values, dict) else None


def table_view(state: State, request: Any, number: int) -> dict[str, Any]:
    registry = state.registry
    set_record = registry.read_set(number)
    q = request.query_params
    where, sort = q.get("where", "").strip(), q.get("sort", "").strip()
    directions = parse_directions(q.get("dir", ""))
    errors: dict[str, Any] = {}
    node = None
    if len(where) > MAX_QUERY:
        errors["where"] = {"message": f"a filter is at most {MAX_QUERY:,} characters",
                           "position": MAX_QUERY, "query": where[:MAX_QUERY]}
    elif where:
        try:
            node = query.parse(where)
        except QueryError as exc:
            errors["where"] = _query_error(exc, where)
    order: list[tuple[query.Field, bool]] = []
    if len(sort) > MAX_QUERY:
        errors["sort"] = {"message": f"a sort order is at most {MAX_QUERY:,} characters",
                          "position": MAX_QUERY, "query": sort[:MAX_QUERY]}
    elif sort:
        try:
            order = query.parse_order_by(sort)[:5]
        except QueryError as exc:
            errors["sort"] = _query_error(exc, sort)
    if not order:  # newest first: after a run, what people come to look at
        order = [(query.Field("top", "number"), True)]
    size = int_param(request, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)

    index = state.index()
    conn = index.connect()
    total = index.count(number)
    low, high = row_id(number, 0), row_id(number + 1, 0)
    args: list[Any]
    if "where" in errors:
        selection, args = "SELECT rowid FROM experiments WHERE 0", []
    elif node is None:
        selection, args = f"SELECT rowid FROM experiments WHERE set_number = {int(number)}", []
    else:
        selection, args = compile_search(node, (), None, number, columns="e.rowid")
    matched = (total if node is None and "where" not in errors else
               conn.execute(f"SELECT count(*) FROM ({selection})", args).fetchone()[0])
    in_selection = ("exp >= ? AND exp < ?" if node is None else f"exp IN ({selection})")
    agg_args = [low, high] if node is None else [*args]
    stats: dict[tuple[str, str], tuple[bool, int, Any, Any]] = {}
    if "where" not in errors:
        stats = _field_stats(conn, in_selection, agg_args)

    keys = {kind: _top_level(sorted(k for (kd, k) in stats if kd == kind))
            for kind in ("params", "metrics", "tags")}
    varying = [k for k in keys["params"]
               if stats[("params", k)][0] or stats[("params", k)][1] < matched]
    available = cols.available(keys)
    # What people compare first: the metrics, then what varies, then where it came from.
    default = ["number", "name", "status"]
    default += [str(query.Field("metrics", k)) for k in keys["metrics"]]
    default += [str(query.Field("params", k)) for k in
                (varying if matched > 1 else keys["params"])]
    default += ["model_version", "data_version", "created"]
    hide = [c.strip() for c in q.get("hide", "").split(",") if c.strip()]
    if "pick" in q:
        wanted = [c for c in q.getlist("col")]
        columns = [c for c in available if c in wanted]
    elif q.get("cols", "").strip():
        columns = cols.expand(",".join(q["cols"].split(",")[:MAX_COLUMNS]), available)
    else:
        columns = [c for c in default if c not in hide]
    columns = columns[:MAX_COLUMNS] or ["number", "name"]
    fields = [query.parse_field(c) for c in columns]

    best: dict[str, dict[str, Any]] = {}
    for key in keys["metrics"]:
        _, count, vmin, vmax = stats[("metrics", key)]
        way = directions.get(key) or ("min" if lower_is_better(key) else "max")
        value = vmin if way == "min" else vmax
        if isinstance(value, (int, float)) and count:
            best[key] = {"value": value, "direction": way,
                         "guessed": key not in directions}

    pages = max(1, math.ceil(matched / size))
    current = int_param(request, "page", 1, 1, pages)
    records: list[dict[str, Any]] = []
    if "where" not in errors and matched:
        sql, params = compile_search(node, order, size, number, offset=(current - 1) * size)
        records = [json.loads(text) for (text,) in conn.execute(sql, params)]

    sort_keys = {str(f): (i, desc) for i, (f, desc) in enumerate(order)}
    header = []
    for column, field in zip(columns, fields, strict=True):
        entry: dict[str, Any] = {"key": column, "kind": field.kind, "label": field.key,
                                 "sorted": None, "rank": None}
        # Numbers line up on the right, text on the left (a param can be either).
        _, _, vmin, vmax = stats.get((field.kind, field.key), (False, 0, None, None))
        entry["numeric"] = field.kind == "metrics" or (
            field.kind == "params" and all(isinstance(v, (int, float)) for v in (vmin, vmax)))
        if column in sort_keys:
            rank, desc = sort_keys[column]
            entry.update(sorted="desc" if desc else "asc", rank=rank + 1)
        if field.kind == "metrics" and field.key in best:
            entry["direction"] = best[field.key]["direction"]
            entry["best"] = best[field.key]["value"]
        first_desc = field.kind == "metrics" and entry.get("direction") == "max"
        primary = order[0] if order else None
        if primary and str(primary[0]) == column:
            entry["sort_link"] = ("" if primary[1] else "-") + column
        else:
            entry["sort_link"] = ("-" if first_desc else "") + column
        header.append(entry)

    groups: list[dict[str, Any]] = []
    for entry in header:
        if groups and groups[-1]["kind"] == entry["kind"]:
            groups[-1]["span"] += 1
        else:
            groups.append({"kind": entry["kind"], "span": 1})
    rows, shown = [], []
    for record in records:
        status = registry.effective_status(record)
        record = record if status == record.get("status") else {**record, "status": status}
        shown.append(record)
        curves = None
        step_names = record.get("step_metrics") or {}
        cells = []
        for field in fields:
            value = value_of(record, field)
            cell: dict[str, Any] = {"value": value}
            if field.kind == "metrics":
                b = best.get(field.key)
                cell["best"] = bool(b and isinstance(value, (int, float))
                                    and value == b["value"])
                if field.key in step_names:
                    if curves is None:
                        curves = read_steps(registry.experiment_path(number, record["number"]))
                    points = curves.get(field.key) or []
                    if len(points) > 1:
                        cell["spark"] = _thin(points, SPARK_POINTS)
            cells.append(cell)
        rows.append({"number": record["number"], "name": record["name"], "status": status,
                     "address": address(record), "cells": cells})
    return {
        "title": f"{set_record['name']} — set {number}",
        "set": set_record,
        "total": total, "matched": matched, "page": current, "pages": pages, "size": size,
        "first_row": (current - 1) * size + 1 if records else 0,
        "last_row": (current - 1) * size + len(records),
        "where": where, "sort": sort, "errors": errors,
        "directions": directions, "dir": format_directions(directions),
        "columns": header, "groups": groups, "available": available, "default_columns": default,
        "best": best, "rows": rows,
        "experiments": shown,
    }


def _thin(points: list[tuple[float, float]], n: int) -> list[list[float]]:
    if len(points) <= n:
        return [list(p) for p in points]
    step = (len(points) - 1) / (n - 1)
    return [list(points[round(i * step)]) for i in range(n)]


def routes(state: State) -> list[Any]:
    return page(state, "/sets/{number:int}", table_view, "table.html")


_STATS_CACHE: dict[tuple[Any, ...], dict[tuple[str, str], tuple[bool, int, Any, Any]]] = {}


def _field_stats(
    conn: Any, in_selection: str, args: list[Any]
) -> dict[tuple[str, str], tuple[bool, int, Any, Any]]:
    """Per field of the selection: whether its values differ, count, min and max.

    An aggregate over every field of the set (~100 ms at 10,000 experiments), so it is kept
    until the index changes: ``PRAGMA data_version`` moves when another connection commits,
    ``total_changes`` when this one does.
    """
    version = conn.execute("PRAGMA data_version").fetchone()[0]
    key = (id(conn), version, conn.total_changes, in_selection, tuple(args))
    found = _STATS_CACHE.get(key)
    if found is None:
        found = {}
        # min <> max says "more than one distinct value" without count(DISTINCT)'s b-tree
        # per field (a third of the query's time).
        for kind, field, differ, count, vmin, vmax in conn.execute(
                "SELECT kind, key, min(value) IS NOT max(value), count(*), min(value), "
                f"max(value) FROM fields WHERE {in_selection} GROUP BY kind, key", args):
            found[(_KIND_NAMES[kind], field)] = (bool(differ), count, vmin, vmax)
        if len(_STATS_CACHE) >= 64:
            _STATS_CACHE.clear()
        _STATS_CACHE[key] = found
    return found
