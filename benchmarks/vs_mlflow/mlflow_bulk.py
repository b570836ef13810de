"""Filling an MLflow registry past the creation cap, by copying what MLflow wrote.

MLflow creates about 30-70 runs a second on a 2-core machine, so 100,000 runs through its
API would take close to an hour. Past ``--mlflow-cap`` seconds the rest of the runs are
inserted here in one transaction: each row is a copy of the rows MLflow itself wrote for a
run of the same experiment (``runs``, ``tags``, ``params``, ``metrics``, ``latest_metrics``),
with a new run id and run ``i``'s values from ``benchmarks.generate.values(i)``. The search
then runs on the same tables and indexes MLflow's API would have produced; only the creation
rate is not measured for those runs (the report says how many runs were made each way).
``fill_file_store`` does the same for the file store's folders.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
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


def fill_file_store(mlruns: str, n: int, experiment: str = "bench") -> int:
    """The same for MLflow's file store: a run folder per missing run, written as MLflow
    writes one (``meta.yaml``, one file per param, metric and tag), copied from one of its
    own runs; returns how many were added."""
    root = Path(mlruns)
    exp_dir = next(d for d in root.iterdir() if (d / "meta.yaml").is_file()
                   and f"name: {experiment}\n" in (d / "meta.yaml").read_text())
    names: dict[str, Path] = {}
    for run in exp_dir.iterdir():
        meta = run / "meta.yaml"
        if run.is_dir() and meta.is_file():
            for line in meta.read_text().splitlines():
                if line.startswith("run_name: "):
                    names[line[len("run_name: "):].strip("'\"")] = run
    template = next(p for name, p in names.items() if name.startswith("synthetic "))
    meta_text = (template / "meta.yaml").read_text()
    tags = {t.name: t.read_text() for t in (template / "tags").iterdir()}
    start = next(int(line.split(": ")[1]) for line in meta_text.splitlines()
                 if line.startswith("start_time: "))
    added = 0
    for i in range(n):
        name = f"synthetic {i}"
        if name in names:
            continue
        added += 1
        rid = uuid.uuid4().hex
        when = start + i
        run = exp_dir / rid
        for sub in ("artifacts", "metrics", "params", "tags"):
            (run / sub).mkdir(parents=True)
        lines = []
        for line in meta_text.replace(template.name, rid).splitlines():
            if line.startswith("run_name: "):
                line = f"run_name: {name}"
            elif line.startswith("start_time: "):
                line = f"start_time: {when}"
            elif line.startswith("end_time: "):
                line = f"end_time: {when + 5}"
            lines.append(line)
        (run / "meta.yaml").write_text("\n".join(lines) + "\n")
        for key, text in tags.items():
            (run / "tags" / key).write_text(name if key == "mlflow.runName" else text)
        p, m = values(i)
        for key, value in p.items():
            (run / "params" / key).write_text(str(value))
        for key, value in m.items():
            (run / "metrics" / key).write_text(f"{when + 1} {float(value)} 0\n")
    return added
