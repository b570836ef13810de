"""lineage's half of each case, run in a worker process of the current interpreter."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .common import LIMIT, LINEAGE_ORDER, METRICS, PARAMS, WHERE, du, make_array, train_forest

_root: str | None = None


def version() -> dict[str, str]:
    import lineage

    return {"lineage": lineage.__version__}


def setup(root: str) -> None:
    """Use the registry at ``root`` (a ``.lineage`` folder), created on first use."""
    global _root
    _root = root


def one_run(count: int, tag: str = "run") -> list[float]:
    """ms per experiment: create, 10 params, 10 final metrics, register (fsync on commit)."""
    from lineage import Experiment

    samples = []
    for i in range(count):
        start = time.perf_counter()
        exp = Experiment(experiment_name=f"{tag} {i}", root=_root)
        exp.hyperparameters = PARAMS
        exp.log_metrics(METRICS)
        exp.register()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def steps(calls: int) -> dict[str, float]:
    """µs per ``log_metric(step=i)`` call, and ms from the last call until all are durable."""
    from lineage import Experiment

    exp = Experiment(experiment_name="steps", root=_root)
    log = exp.log_metric
    start = time.perf_counter()
    for i in range(calls):
        log("loss", 1.0 / (i + 1), step=i)
    loop = time.perf_counter() - start
    start = time.perf_counter()
    exp.register()
    durable = time.perf_counter() - start
    return {"per_call_us": loop / calls * 1e6, "loop_ms": loop * 1000,
            "durable_ms": durable * 1000, "total_ms": (loop + durable) * 1000}


def artifacts(workdir: str, size_mb: int, copies: int) -> dict[str, Any]:
    """A RandomForest and a ``size_mb`` array registered, then the same array in ``copies``
    more experiments: ms and bytes on disk (hard links once)."""
    from lineage import Experiment

    root = str(Path(workdir) / ".lineage")
    clf, train_ms = train_forest()
    array = make_array(size_mb)
    start = time.perf_counter()
    exp = Experiment(experiment_name="forest", root=root)
    exp.hyperparameters = clf.get_params()
    exp.register(model=clf, data=array)
    first_ms = (time.perf_counter() - start) * 1000
    first_bytes = du(workdir)
    start = time.perf_counter()
    for i in range(copies):
        exp = Experiment(experiment_name=f"same data {i}", root=root)
        exp.register(data=array)
    copies_ms = (time.perf_counter() - start) * 1000
    return {"train_ms": train_ms, "first_ms": first_ms, "first_bytes": first_bytes,
            "copies_ms": copies_ms, "total_bytes": du(workdir),
            "data_bytes": int(array.nbytes)}


def search(root: str, warmup: int, repeat: int) -> dict[str, Any]:
    """ms per filtered, ordered top-10 query, in process, the registry already open."""
    import lineage

    found: list[Any] = []
    samples = []
    for k in range(warmup + repeat):
        start = time.perf_counter()
        found = lineage.search(1, WHERE, LINEAGE_ORDER, LIMIT, root=root)
        elapsed = (time.perf_counter() - start) * 1000
        if k >= warmup:
            samples.append(elapsed)
    return {"samples": samples, "top": [round(e.metrics["f1"], 12) for e in found]}


def count_matching(root: str) -> int:
    import lineage

    return len(lineage.search(1, WHERE, root=root))


def one_run_in(root: str, count: int, set_number: int = 1) -> list[float]:
    """Case 7: ms per experiment like ``one_run``, added to a large existing set."""
    from lineage import Experiment

    samples = []
    for i in range(count):
        start = time.perf_counter()
        exp = Experiment(experiment_name=f"scaling {i}", set=set_number, root=root)
        exp.hyperparameters = PARAMS
        exp.log_metrics(METRICS)
        exp.register()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def environ() -> dict[str, str | None]:
    return {k: os.environ.get(k) for k in ("LINEAGE_CAPTURE_GIT", "PYTHONDONTWRITEBYTECODE")}
