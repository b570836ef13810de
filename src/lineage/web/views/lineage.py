"""``/lineage``: which experiments and model versions used a piece of data.

``?fingerprint=blake3:…`` lists every experiment trained on exactly that data (whatever
version it was registered under), ``?data_version=…`` every experiment registered with that
version and the fingerprints seen under it (two fingerprints under one version means the
data changed without a new version), ``?experiment=SET/EXP`` is ``lineage.trace()``.
Without a question: the data fingerprints of the registry, newest first.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ... import api
from ...errors import ValidationError
from ..pages import State, address, page

_FINGERPRINT = re.compile(r"blake3:[0-9a-f]{16,128}")
_ADDRESS = re.compile(r"([1-9][0-9]{0,8})/([1-9][0-9]{0,8})")
MAX_ROWS = 1_000


def _rows(records: list[dict[str, Any]], state: State) -> list[dict[str, Any]]:
    return [{"address": address(r), "set": r["set"]["number"], "set_name": r["set"].get("name"),
             "number": r["number"], "name": r["name"], "status": state.registry.effective_status(r),
             "model_version": r.get("model_version"), "data_version": r.get("data_version"),
             "fingerprint": (r.get("data") or {}).get("fingerprint"), "created": r.get("created")}
            for r in records]


def _versions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """data version → model versions (with experiments) and fingerprints seen under it."""
    grouped: dict[str, dict[str, Any]] = {}
    for r in rows:
        g = grouped.setdefault(str(r["data_version"]), {"data_version": r["data_version"],
                                                        "models": [], "fingerprints": []})
        g["models"].append({"model_version": r["model_version"], "experiment": r["address"]})
        if r["fingerprint"] and r["fingerprint"] not in g["fingerprints"]:
            g["fingerprints"].append(r["fingerprint"])
    return list(grouped.values())


def lineage_view(state: State, request: Any) -> dict[str, Any]:
    q = request.query_params
    fingerprint = q.get("fingerprint", "").strip()
    version = q.get("data_version", "")
    experiment = q.get("experiment", "").strip()
    base: dict[str, Any] = {"title": "Lineage", "fingerprint": fingerprint,
                            "data_version": version, "experiment": experiment,
                            "question": None, "rows": [], "versions": [], "data": None,
                            "fingerprints": []}
    if not state.has_registry():
        return base
    conn = state.index().connect()
    root = state.registry.path
    if experiment:
        m = _ADDRESS.fullmatch(experiment)
        if not m:
            raise ValidationError(f"an experiment is SET/EXP in numbers, e.g. 1/3, not "
                                  f"{experiment[:40]!r}")
        found = api.trace(int(m.group(1)), int(m.group(2)), root=root)
        rows = _rows(found["same_data"], state)
        trace_versions = [{"data_version": v, "models": ms,
                           "fingerprints": sorted({x["fingerprint"] for x in ms
                                                   if x["fingerprint"]})}
                          for v, ms in found["data_versions"].items()]
        return {**base, "question": "experiment", "data": found["data"], "rows": rows,
                "versions": trace_versions, "subject": found["experiment"]}
    if fingerprint:
        if not _FINGERPRINT.fullmatch(fingerprint):
            raise ValidationError("a data fingerprint is 'blake3:' and hex digits, as "
                                  "experiment pages and `lineage trace` show it")
        rows = _rows(api.used_data(fingerprint, root=root).to_records()[:MAX_ROWS], state)
        return {**base, "question": "fingerprint", "rows": rows, "versions": _versions(rows)}
    if "data_version" in q:
        records = [json.loads(t) for (t,) in conn.execute(
            "SELECT record FROM experiments WHERE data_version IS ? "
            "ORDER BY set_number, number LIMIT ?", (version or None, MAX_ROWS))]
        rows = _rows(records, state)
        return {**base, "question": "data_version", "rows": rows, "versions": _versions(rows)}
    prints = [{"fingerprint": fp, "experiments": n, "data_versions": versions,
               "last": last} for fp, n, versions, last in conn.execute(
        "SELECT data_fingerprint, count(*), group_concat(DISTINCT data_version), max(created) "
        "FROM experiments WHERE data_fingerprint IS NOT NULL GROUP BY data_fingerprint "
        "ORDER BY max(created) DESC LIMIT 200")]
    return {**base, "fingerprints": prints}


def routes(state: State) -> list[Any]:
    return page(state, "/lineage", lineage_view, "lineage.html")
