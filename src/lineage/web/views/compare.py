"""``/sets/N/compare?e=1&e=3``: 2–10 experiments side by side.

A vertical table from :func:`lineage.comparison.compare` (the CLI's ``lineage compare``):
only the rows that differ unless ``all=1``, metric deltas against the ``baseline``
experiment coloured by whether they are better, data fingerprints and the environment
included. Then the step metrics overlaid (one colour per experiment, the colour of its
column), a scatter of a param against a metric (the set's other experiments in grey), and a
line diff of every text artifact the experiments share by name.
"""

from __future__ import annotations

import difflib
from typing import Any

from ... import comparison
from ...errors import ValidationError
from ...index import KINDS, row_id
from ..pages import State, address, page
from ..security import MAX_COMPARE, MAX_TEXT, NotServable, read_artifact
from ..steps import read_steps
from .table import format_directions, parse_directions

TEXT_SUFFIXES = (".txt", ".md", ".json", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".csv",
                 ".tsv", ".py", ".diff", ".patch", ".sh", ".sql", ".r", ".log")
TEXT_ROLES = {"releasenotes", "script", "git-diff", "results-json"}
MAX_DIFF_LINES = 2_000
MAX_BACKGROUND = 5_000
CHART_POINTS = 400


def _numbers(request: Any) -> list[int]:
    raw: list[str] = []
    for value in request.query_params.getlist("e"):
        raw.extend(value.split(","))
    numbers: list[int] = []
    for item in raw[: MAX_COMPARE * 4]:
        item = item.strip()
        if not item:
            continue
        if not item.isdigit():
            raise ValidationError(f"experiment numbers are whole numbers, not {item!r}")
        if int(item) not in numbers:
            numbers.append(int(item))
    if not 2 <= len(numbers) <= MAX_COMPARE:
        raise ValidationError(
            f"compare 2 to {MAX_COMPARE} experiments (got {len(numbers)}): tick them in the "
            "set's table, or give them as ?e=1&e=2")
    return sorted(numbers)  # oldest first, whatever order they were ticked or listed in


def is_text(entry: dict[str, Any]) -> bool:
    path = str(entry.get("path", ""))
    if entry.get("role") == "metrics":
        return False
    return (entry.get("serializer") in ("text", "json") or entry.get("role") in TEXT_ROLES
            or path.lower().endswith(TEXT_SUFFIXES))


def _text_of(state: State, record: dict[str, Any], entry: dict[str, Any]) -> str | None:
    folder = state.registry.experiment_path(record["set"]["number"], record["number"])
    try:
        data, cut = read_artifact(folder, entry.get("path"), MAX_TEXT, entry.get("size"))
    except NotServable:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text + ("\n… (cut at 1 MB)\n" if cut else "")


def text_diffs(state: State, records: list[dict[str, Any]], baseline: int) -> list[dict[str, Any]]:
    """Per shared text artifact: a line diff of each experiment against the baseline."""
    by_path: dict[str, list[dict[str, Any] | None]] = {}
    for i, record in enumerate(records):
        for entry in record.get("artifacts") or []:
            if isinstance(entry, dict) and is_text(entry):
                by_path.setdefault(str(entry.get("path")), [None] * len(records))[i] = entry
    out = []
    labels = [address(r) for r in records]
    for path, entries in by_path.items():
        if sum(e is not None for e in entries) < 2:
            continue
        hashes = {e.get("hash") for e in entries if e is not None}
        item: dict[str, Any] = {"path": path, "identical": len(hashes) == 1 and all(
                                e is not None for e in entries), "diffs": []}
        base_entry = entries[baseline]
        if base_entry is None or item["identical"]:
            item["note"] = ("identical in every experiment" if item["identical"] else
                            f"the baseline {labels[baseline]} has no {path}")
            out.append(item)
            continue
        base_text = _text_of(state, records[baseline], base_entry)
        for i, entry in enumerate(entries):
            if i == baseline or entry is None:
                continue
            if entry.get("hash") == base_entry.get("hash"):
                item["diffs"].append({"experiment": labels[i], "same": True, "lines": []})
                continue
            text = _text_of(state, records[i], entry)
            if text is None or base_text is None:
                item["diffs"].append({"experiment": labels[i], "same": False, "lines": [],
                                      "note": "not readable as UTF-8 text"})
                continue
            lines = list(difflib.unified_diff(
                base_text.splitlines(), text.splitlines(), f"{labels[baseline]}/{path}",
                f"{labels[i]}/{path}", lineterm="", n=3))
            cut = len(lines) > MAX_DIFF_LINES
            item["diffs"].append({
                "experiment": labels[i], "same": False, "cut": cut,
                "lines": [{"kind": _line_kind(line), "text": line}
                          for line in lines[:MAX_DIFF_LINES]],
            })
        out.append(item)
    return out


def _line_kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "ctx")


def compare_view(state: State, request: Any, number: int) -> dict[str, Any]:
    registry = state.registry
    set_record = registry.read_set(number)
    numbers = _numbers(request)
    records = [registry.find_experiment(number, n) for n in numbers]
    statuses = [registry.effective_status(r) for r in records]
    q = request.query_params
    try:
        baseline = numbers.index(int(q.get("baseline", numbers[0])))
    except ValueError:
        baseline = 0
    show_all = q.get("all") == "1"
    directions = parse_directions(q.get("dir", ""))
    result = comparison.compare(records, only_diff=not show_all, baseline=baseline,
                                directions=directions)
    labels = result.labels
    rows = []
    for row in result.rows:
        values = list(row.values)
        if row.section == "experiment" and row.key == "status":
            values = statuses
        way = None
        if row.section == "metrics":
            way = directions.get(row.key) or ("min" if comparison.lower_is_better(row.key)
                                              else "max")
        deltas: list[dict[str, Any] | None] = []
        for i, delta in enumerate(row.deltas):
            if delta is None or i == baseline or row.section not in ("metrics", "params"):
                deltas.append(None)
                continue
            tone = "same"
            if delta and way:
                tone = "better" if (delta < 0) == (way == "min") else "worse"
            deltas.append({"value": delta, "tone": tone})
        rows.append({"section": row.section, "key": row.key, "values": values,
                     "changed": row.changed, "best": row.best, "deltas": deltas,
                     "direction": way})

    curves = [read_steps(registry.experiment_path(number, n)) for n in numbers]
    names = sorted({name for c in curves for name in c})
    charts = []
    for name in names:
        series = [{"experiment": labels[i], "colour": i,
                   "points": _thin(c.get(name) or [], CHART_POINTS)}
                  for i, c in enumerate(curves) if c.get(name)]
        charts.append({"metric": name, "series": series})

    params = sorted({k for r in records for k in (r.get("hyperparameters") or {})})
    metrics = sorted({k for r in records for k in (r.get("metrics") or {})})
    changed_params = [r["key"] for r in rows if r["section"] == "params" and r["changed"]]
    changed_metrics = [r["key"] for r in rows if r["section"] == "metrics" and r["changed"]]
    x = q.get("x") if q.get("x") in params else (changed_params or params or [None])[0]
    y = q.get("y") if q.get("y") in metrics else (changed_metrics or metrics or [None])[0]
    scatter: dict[str, Any] = {"x": x, "y": y, "params": params, "metrics": metrics,
                               "points": [], "background": []}
    if x is not None and y is not None:
        for i, r in enumerate(records):
            scatter["points"].append({
                "experiment": labels[i], "label": f"{labels[i]} {r['name']}", "colour": i,
                "x": (r.get("hyperparameters") or {}).get(x),
                "y": (r.get("metrics") or {}).get(y)})
        conn = state.index().connect()
        chosen = {row_id(number, n) for n in numbers}
        for rid, xv, yv in conn.execute(
                "SELECT p.exp, p.value, m.value FROM fields p JOIN fields m ON m.exp = p.exp "
                "AND m.kind = ? AND m.key = ? WHERE p.kind = ? AND p.key = ? AND p.exp >= ? "
                "AND p.exp < ? LIMIT ?",
                (KINDS["metrics"], y, KINDS["params"], x, row_id(number, 0),
                 row_id(number + 1, 0), MAX_BACKGROUND)):
            if rid not in chosen:
                scatter["background"].append([xv, yv])

    return {
        "title": f"Compare {', '.join(labels)}",
        "set": set_record,
        "experiments": [{"number": r["number"], "name": r["name"], "address": labels[i],
                         "status": statuses[i], "colour": i} for i, r in enumerate(records)],
        "numbers": numbers, "baseline": baseline, "all": show_all,
        "directions": directions, "dir": format_directions(directions),
        "rows": rows, "charts": charts, "scatter": scatter,
        "texts": text_diffs(state, records, baseline),
    }


def _thin(points: list[tuple[float, float]], n: int) -> list[list[float]]:
    from ..charts import downsample

    return [list(p) for p in downsample(points, n // 2)]


def routes(state: State) -> list[Any]:
    return page(state, "/sets/{number:int}/compare", compare_view, "compare.html")
