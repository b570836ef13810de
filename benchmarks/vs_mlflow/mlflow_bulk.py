"""Filling an MLflow SQLite registry past the creation cap, by copying what MLflow wrote.

MLflow creates about 30-70 runs a second on a 2-core machine, so 100,000 runs through its
API would take close to an hour. Past ``--mlflow-cap`` seconds the rest of the runs are
inserted here in one transaction: each row is a copy of the rows MLflow itself wrote for a
run of the same experiment (``runs``, ``tags``, ``params``, ``metrics``, ``latest_metrics``),
with a new run id and run ``i``'s values from ``benchmarks.generate.values(i)``. The search
then runs on the same tables and indexes MLflow's API would have produced; only the creation
rate is not measured for those runs (the report says how many runs were made each way).
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from benchmarks.generate import values


def _rows(conn: sqlite3.Connection, table: str, run_uuid: str) -> tuple[list[str], list[Any]]:
    cur = conn.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (run_uuid,))  # noqa: S608
    return [d[0] for d in cur.description], cur.fetchall()


def fill(db: str, n: int, experiment: str = "bench") -> int:
    """Add runs ``synthetic i`` for every ``i < n`` the experiment lacks; returns how many."""
    conn = sqlite3.connect(db)
    try:
        (experiment_id,) = conn.execute("SELECT experiment_id FROM experiments WHERE name = ?",
                                        (experiment,)).fetchone()
        have = {name for (name,) in conn.execute(
            "SELECT name FROM runs WHERE experiment_id = ?", (experiment_id,))}
        template = conn.execute(
            "SELECT run_uuid FROM runs WHERE experiment_id = ? AND name LIKE 'synthetic %' "
            "AND status = 'FINISHED' LIMIT 1", (experiment_id,)).fetchone()[0]
        run_cols, (run_row,) = _rows(conn, "runs", template)
        tag_cols, tag_rows = _rows(conn, "tags", template)
        param_cols, _ = _rows(conn, "params", template)
        metric_cols, (metric_row, *_) = _rows(conn, "metrics", template)
        latest_cols, (latest_row, *_) = _rows(conn, "latest_metrics", template)
        base = dict(zip(run_cols, run_row, strict=True))
        runs, tags, params, metrics, latest = [], [], [], [], []
        added = 0
        for i in range(n):
            name = f"synthetic {i}"
            if name in have:
                continue
            added += 1
            rid = uuid.uuid4().hex
            when = int(base["start_time"]) + i
            row = dict(base, run_uuid=rid, name=name, start_time=when, end_time=when + 5,
                       artifact_uri=str(base["artifact_uri"]).replace(template, rid))
            runs.append(tuple(row[c] for c in run_cols))
            for t in tag_rows:
                tag = dict(zip(tag_cols, t, strict=True))
                tag["run_uuid"] = rid
                if tag["key"] == "mlflow.runName":
                    tag["value"] = name
                tags.append(tuple(tag[c] for c in tag_cols))
            p, m = values(i)
            for k, v in p.items():
                params.append(tuple({"key": k, "value": str(v), "run_uuid": rid}[c]
                                    for c in param_cols))
            for k, v in m.items():
                for cols, tmpl, out in ((metric_cols, metric_row, metrics),
                                        (latest_cols, latest_row, latest)):
                    r = dict(zip(cols, tmpl, strict=True))
                    r.update(key=k, value=float(v), run_uuid=rid, timestamp=when + 1, step=0,
                             is_nan=0)
                    out.append(tuple(r[c] for c in cols))

        def insert(table: str, cols: list[str], rows: list[Any]) -> None:
            marks = ", ".join("?" for _ in cols)
            conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)

        with conn:
            insert("runs", run_cols, runs)
            insert("tags", tag_cols, tags)
            insert("params", param_cols, params)
            insert("metrics", metric_cols, metrics)
            insert("latest_metrics", latest_cols, latest)
        return added
    finally:
        conn.close()
