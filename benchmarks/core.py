"""Core costs of tracking: import, one experiment end to end, a step-metric call.

    python -m benchmarks.core [--repeat N]

Prints medians and min–max. Runs outside any git repository unless --git is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _stats(samples: list[float]) -> str:
    return f"{statistics.median(samples):.3f} (min {min(samples):.3f}, max {max(samples):.3f})"


def import_time(repeat: int) -> list[float]:
    """ms that `import lineage` takes inside fresh interpreters (cached bytecode, as users run)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    code = (
        "import time; t = time.perf_counter(); import lineage; "
        "print((time.perf_counter() - t) * 1000)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    return [
        float(subprocess.run([sys.executable, "-c", code], check=True, env=env,
                             capture_output=True, text=True).stdout)
        for _ in range(repeat)
    ]


def one_experiment(root: Path, repeat: int) -> list[float]:
    """ms to create and register an experiment with 10 params and 10 metrics, no artifacts."""
    from lineage import Experiment

    Experiment(experiment_name="warm-up", root=root).register()  # per-process captures
    samples = []
    params = {f"p{i}": i for i in range(10)}
    for i in range(repeat):
        start = time.perf_counter()
        exp = Experiment(experiment_name=f"run {i}", root=root)
        exp.hyperparameters = params
        for m in range(10):
            exp.log_metric(f"m{m}", m / 10)
        exp.register()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def step_metric(root: Path, calls: int) -> tuple[float, float]:
    """µs per log_metric(step=) call, and ms until all of them are durable (register)."""
    from lineage import Experiment

    exp = Experiment(experiment_name="steps", root=root)
    start = time.perf_counter()
    for i in range(calls):
        exp.log_metric("loss", 1.0 / (i + 1), step=i)
    per_call = (time.perf_counter() - start) / calls * 1e6
    start = time.perf_counter()
    exp.register()
    return per_call, (time.perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--git", action="store_true", help="run inside a git repository")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        work = Path(tmp)
        if args.git:
            subprocess.run(["git", "init", "-q", str(work)], check=True)
        os.chdir(work)
        print(f"import lineage (ms): {_stats(import_time(max(5, args.repeat // 10)))}")
        runs = one_experiment(work / ".lineage", args.repeat)
        where = "in a git repository" if args.git else "outside git"
        print(f"experiment, 10 params + 10 metrics, registered {where} (ms): {_stats(runs)}")
        per_call, durable = step_metric(work / ".lineage", 10_000)
        print(f"log_metric(step=) per call (µs): {per_call:.3f}")
        print(f"10,000 step values durable after register (ms): {durable:.1f}")


if __name__ == "__main__":
    main()
