"""MLflow registries of N runs for case 5, in MLflow's venv (parallel processes, a deadline).

    python -m benchmarks.vs_mlflow.mlflow_gen URI START N PROCESSES CAP_SECONDS

Adds runs ``START..N-1`` to the experiment ``bench`` the way a training script does
(``start_run``, ``log_params``, ``log_metrics``, end), with the values of
``benchmarks.generate.values(i)`` — the same numbers lineage's registry gets. Workers stop
``CAP_SECONDS`` after they start together (each makes at least one run); prints JSON: how
many runs were created, in how many seconds.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import time
from typing import Any


def _worker(uri: str, indices: range, cap: float, barrier: Any, queue: Any) -> None:
    import mlflow

    from benchmarks.generate import values

    if uri.startswith("file:"):
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench")
    barrier.wait()
    start = time.time()
    deadline = start + cap
    done, errors, last_error = 0, 0, None
    for i in indices:
        if done and time.time() >= deadline:
            break
        params, metrics = values(i)
        try:
            with mlflow.start_run(run_name=f"synthetic {i}"):
                mlflow.log_params(params)
                mlflow.log_metrics(metrics)
            done += 1
        except Exception as exc:  # e.g. "database is locked" under two writers: counted
            errors += 1
            last_error = f"{type(exc).__name__}: {exc}"[:300]
            if mlflow.active_run() is not None:
                mlflow.end_run("FAILED")
    queue.put({"done": done, "errors": errors, "last_error": last_error, "start": start,
               "end": time.time()})


def run(uri: str, start: int, n: int, processes: int, cap: float) -> dict[str, Any]:
    import mlflow

    if uri.startswith("file:"):
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench")  # created (and the database migrated) before timing
    rest = range(start, n)
    processes = max(1, min(processes, len(rest)))
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(processes), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(uri, rest[w::processes], cap, barrier,
                                                  queue)) for w in range(processes)]
    for w in workers:
        w.start()
    figures = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    created = sum(f["done"] for f in figures)
    seconds = max(f["end"] for f in figures) - min(f["start"] for f in figures)
    return {"created": created, "seconds": seconds,
            "rate": created / seconds if seconds > 0 else 0.0,
            "errors": sum(f["errors"] for f in figures),
            "last_error": next((f["last_error"] for f in figures if f["last_error"]), None),
            "processes": processes, "capped": start + created < n}


if __name__ == "__main__":
    uri, start, n, processes, cap = sys.argv[1:6]
    result = run(uri, int(start), int(n), int(processes), float(cap))
    print(json.dumps(result))
