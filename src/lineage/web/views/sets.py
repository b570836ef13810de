"""``/sets``: every set with its size, its main metric's best value and its last activity."""

from __future__ import annotations

from typing import Any

from ...api import set_summaries
from ...comparison import lower_is_better
from ..pages import State, page

#: Metrics preferred as a set's main metric, when several are held by as many experiments.
PREFERRED = ("f1", "accuracy", "auc", "roc_auc", "r2", "score", "precision", "recall",
             "rmse", "mae", "mse", "loss")


def main_metrics(conn: Any) -> dict[int, dict[str, Any]]:
    """Per set: the metric most registered experiments have, and its best value."""
    rows = conn.execute(
        "SELECT e.set_number, f.key, count(*), min(f.value), max(f.value) FROM fields f "
        "JOIN experiments e ON e.rowid = f.exp WHERE f.kind = 2 AND e.status = 'registered' "
        "GROUP BY e.set_number, f.key"
    ).fetchall()
    by_set: dict[int, list[tuple[str, int, Any, Any]]] = {}
    for set_number, key, count, low, high in rows:
        by_set.setdefault(set_number, []).append((key, count, low, high))
    chosen: dict[int, dict[str, Any]] = {}
    for set_number, metrics in by_set.items():
        def rank(m: tuple[str, int, Any, Any]) -> tuple[int, int, str]:
            pref = PREFERRED.index(m[0]) if m[0] in PREFERRED else len(PREFERRED)
            return (-m[1], pref, m[0])

        key, count, low, high = min(metrics, key=rank)
        lower = lower_is_better(key)
        value = low if lower else high
        holder = conn.execute(
            "SELECT e.number, e.name FROM fields f JOIN experiments e ON e.rowid = f.exp "
            "WHERE f.kind = 2 AND f.key = ? AND f.value = ? AND e.set_number = ? "
            "AND e.status = 'registered' ORDER BY e.number LIMIT 1",
            (key, value, set_number)).fetchone()
        chosen[set_number] = {
            "metric": key, "value": value, "direction": "min" if lower else "max",
            "experiments": count,
            "experiment": {"number": holder[0], "name": holder[1]} if holder else None,
        }
    return chosen


def sets_view(state: State, request: Any) -> dict[str, Any]:

    registry = state.registry
    if not state.has_registry():
        return {"title": "Sets", "sets": [], "aliases": {}, "registry": str(registry.path),
                "empty": f"no lineage registry at {registry.path} yet"}
    index = state.index()
    best = main_metrics(index.connect())
    rows = [{**s, "main_metric": best.get(s["number"])} for s in set_summaries(registry)]
    rows.reverse()  # newest set first
    return {"title": "Sets", "sets": rows, "aliases": registry.aliases()["current"],
            "registry": str(registry.path), "empty": None if rows else "no experiment sets yet"}


def routes(state: State) -> list[Any]:
    return page(state, "/sets", sets_view, "sets.html")
