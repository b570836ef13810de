"""Create a synthetic registry through the public API, in parallel, and print the rate.

    python -m benchmarks.generate PATH --experiments N [--sets S] [--params 5] [--metrics 5]
                                  [--processes P] [--seed 0]

Every experiment is made the way a training script makes one: ``Experiment(..., root=PATH)``,
``exp.hyperparameters = {...}``, ``exp.log_metric(...)``, ``exp.register()`` (no artifacts,
``LINEAGE_CAPTURE_GIT=0``). Experiment ``i`` (0-based) gets parameters and metrics drawn from
a generator seeded with ``(seed, i)``, so the same command always produces the same values
(which experiment *number* gets them depends on how the processes interleave):

- ``max_depth`` int 1–30, ``n_estimators`` int 10–1000, ``learning_rate`` float 1e-4–1,
  ``subsample`` float 0.5–1, ``criterion`` one of gini/entropy/log_loss; ``--params`` above 5
  adds ``p5``, ``p6``… (ints and floats in turn);
- ``f1``, ``accuracy``, ``precision``, ``recall`` uniform in 0–1 and ``loss`` > 0;
  ``--metrics`` above 5 adds ``m5``, ``m6``… uniform in 0–1.

Sets: experiment ``i`` goes to the ``(i % S)``-th new set. The first experiment of each set
is created by this process with ``new_set=True`` (sets cannot be created ahead of their first
experiment through the public API); the rest are shared out among ``P`` worker processes
(default: the number of CPUs), which start together and are timed from that start to the last
``register()`` — interpreter start-up and ``import lineage`` are reported separately.

From Python: ``generate(path, n, sets=1, processes=None) -> float`` (experiments/second).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import random
import time
from pathlib import Path
from typing import Any

CATEGORIES = ("gini", "entropy", "log_loss")
GOAL_RATE = 500.0  # experiments/second (the goal)


def values(i: int, n_params: int = 5, n_metrics: int = 5, seed: int = 0
           ) -> tuple[dict[str, Any], dict[str, float]]:
    """Deterministic hyperparameters and metrics of the ``i``-th synthetic experiment."""
    rng = random.Random(f"lineage-bench:{seed}:{i}")
    base: dict[str, Any] = {
        "max_depth": rng.randint(1, 30),
        "n_estimators": rng.randint(10, 1000),
        "learning_rate": 10 ** rng.uniform(-4, 0),
        "subsample": rng.uniform(0.5, 1.0),
        "criterion": rng.choice(CATEGORIES),
    }
    params = dict(list(base.items())[:n_params])
    for k in range(5, n_params):
        params[f"p{k}"] = rng.randint(0, 1000) if k % 2 else rng.random()
    f1 = rng.random()
    base_metrics = {
        "f1": f1,
        "accuracy": rng.random(),
        "precision": rng.random(),
        "recall": rng.random(),
        "loss": -math.log(max(1e-12, rng.random())),
    }
    metrics = dict(list(base_metrics.items())[:n_metrics])
    for k in range(5, n_metrics):
        metrics[f"m{k}"] = rng.random()
    return params, metrics


def _make(root: str, i: int, n_params: int, n_metrics: int, seed: int, *,
          set_number: int | None = None, set_name: str | None = None) -> Any:
    from lineage import Experiment

    params, metrics = values(i, n_params, n_metrics, seed)
    if set_number is None:
        exp = Experiment(new_set=True, set_name=set_name, experiment_name=f"synthetic {i}",
                         model_version="0.0.1", data_version="0.0.1", root=root)
    else:
        exp = Experiment(set=set_number, experiment_name=f"synthetic {i}",
                         model_version="0.0.1", data_version="0.0.1", root=root)
    exp.hyperparameters = params
    for name, value in metrics.items():
        exp.log_metric(name, value)
    exp.register()
    return exp


def _worker(root: str, indices: range, set_numbers: list[int], n_params: int,
            n_metrics: int, seed: int, spawned: float, barrier: Any, results: Any) -> None:
    import lineage  # noqa: F401 - imported before the start line, timed separately

    ready = time.time()
    barrier.wait()
    start = time.time()
    for i in indices:
        _make(root, i, n_params, n_metrics, seed, set_number=set_numbers[i % len(set_numbers)])
    end = time.time()
    results.put({"pid": os.getpid(), "count": len(indices), "start": start, "end": end,
                 "startup": ready - spawned})


def run(path: str | os.PathLike[str], n: int, sets: int = 1, processes: int | None = None,
        params: int = 5, metrics: int = 5, seed: int = 0, quiet: bool = False
        ) -> dict[str, Any]:
    """Generate ``n`` experiments in ``sets`` new sets; returns the figures as a dict."""
    if sets < 1 or n < sets:
        raise ValueError("need at least one set and at least one experiment per set")
    os.environ["LINEAGE_CAPTURE_GIT"] = "0"  # inherited by the workers
    root = str(Path(path).absolute())
    processes = max(1, processes or os.cpu_count() or 1)

    t0 = time.perf_counter()
    set_numbers = []
    for k in range(sets):
        exp = _make(root, k, params, metrics, seed, set_name=f"synthetic {k + 1} of {sets}")
        set_numbers.append(exp.set_number)
    setup = time.perf_counter() - t0

    rest = range(sets, n)
    processes = max(1, min(processes, len(rest)))
    shares = [rest[w::processes] for w in range(processes)]
    ctx = mp.get_context("spawn")  # clean interpreters: no inherited threads, locks or fds
    barrier = ctx.Barrier(processes)
    queue = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(root, share, set_numbers, params, metrics, seed,
                                          time.time(), barrier, queue))
        for share in shares if len(share)
    ]
    wall0 = time.perf_counter()
    for w in workers:
        w.start()
    figures = [queue.get() for _ in workers]
    for w in workers:
        w.join()
        if w.exitcode != 0:
            raise RuntimeError(f"a generator process failed (exit code {w.exitcode})")
    wall = time.perf_counter() - wall0

    created = sum(f["count"] for f in figures)
    elapsed = (max(f["end"] for f in figures) - min(f["start"] for f in figures)) if figures else 0
    rate = created / elapsed if elapsed > 0 else float("inf")
    result = {
        "path": root,
        "experiments": n,
        "sets": set_numbers,
        "params": params,
        "metrics": metrics,
        "processes": len(workers),
        "setup_seconds": setup,
        "parallel_experiments": created,
        "parallel_seconds": elapsed,
        "rate": rate,
        "wall_seconds_with_startup": wall,
        "per_process": [
            {"count": f["count"], "seconds": f["end"] - f["start"],
             "rate": f["count"] / (f["end"] - f["start"]) if f["end"] > f["start"] else 0.0,
             "startup_seconds": f["startup"]}
            for f in figures
        ],
    }
    if not quiet:
        report(result)
    return result


def generate(path: str | os.PathLike[str], n: int, sets: int = 1,
             processes: int | None = None) -> float:
    """Create ``n`` synthetic experiments at ``path``; returns the rate in experiments/second."""
    return float(run(path, n, sets, processes, quiet=True)["rate"])


def report(r: dict[str, Any]) -> None:
    sets = r["sets"]
    print(f"registry: {r['path']}")
    print(f"{r['experiments']} experiments in {len(sets)} set(s) "
          f"({sets[0]}..{sets[-1]}), {r['params']} params + {r['metrics']} metrics each")
    print(f"  first experiment of each set, in this process: {r['setup_seconds']:.2f} s")
    verdict = "meets" if r["rate"] >= GOAL_RATE else "MISSES"
    print(f"  {r['parallel_experiments']} experiments in {r['processes']} processes: "
          f"{r['parallel_seconds']:.2f} s -> {r['rate']:.0f} experiments/s "
          f"({verdict} the goal of {GOAL_RATE:.0f}/s)")
    for k, p in enumerate(r["per_process"]):
        print(f"    process {k}: {p['count']} in {p['seconds']:.2f} s = {p['rate']:.0f}/s "
              f"(start-up + import {p['startup_seconds'] * 1000:.0f} ms, not timed)")
    print(f"  wall time including process start-up: {r['wall_seconds_with_startup']:.2f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="registry to create or add to (.lineage folder or its parent)")
    parser.add_argument("--experiments", "-n", type=int, required=True)
    parser.add_argument("--sets", type=int, default=1)
    parser.add_argument("--params", type=int, default=5)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--processes", type=int, default=None,
                        help="worker processes (default: the number of CPUs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.params < 1 or args.metrics < 1:
        parser.error("--params and --metrics must be at least 1")
    try:
        run(args.path, args.experiments, args.sets, args.processes, args.params, args.metrics,
            args.seed)
    except ValueError as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    main()
