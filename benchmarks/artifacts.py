"""Storing large data: lineage against np.save, then the same data again.

    python -m benchmarks.artifacts [--size-mb 1024] [--repeat 5]

Prints seconds for np.save of the array (no fsync, as np.save does it), the same followed by
an fsync (durable, as lineage's commit must be: docs/design.md, "Durability and its cost"),
lineage's first register() of it (fingerprint, serialize, hash, fsync, link), and a second
register() of the same data (fingerprint only), with the bytes each added on disk. Rounds
alternate which of np.save and lineage goes first, after a warm-up round that is not counted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def du(path: Path) -> int:
    """Bytes on disk under ``path``, counting each hard-linked file once."""
    seen, total = set(), 0
    for p in path.rglob("*"):
        st = p.lstat()
        if p.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def main(argv: list[str] | None = None) -> None:
    import numpy as np

    from lineage import Experiment

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("LINEAGE_CAPTURE_GIT", "0")
    rng = np.random.default_rng(0)
    array = rng.random(args.size_mb * 1024 * 1024 // 8)
    save, durable, first, again, first_bytes, again_bytes = [], [], [], [], [], []

    def np_save(work: Path, i: int) -> None:
        target = work / f"save{i}.npy"
        start = time.perf_counter()
        np.save(target, array)
        save.append(time.perf_counter() - start)
        with open(target, "rb+") as f:  # what lineage must also do: make it durable
            os.fsync(f.fileno())
        durable.append(time.perf_counter() - start)

    def register(work: Path, i: int) -> None:
        root = work / f"reg{i}" / ".lineage"
        array[0] = i  # new data each round, so the first register is really first
        start = time.perf_counter()
        Experiment(experiment_name="first", root=root).register(data=array)
        first.append(time.perf_counter() - start)
        first_bytes.append(du(root))
        start = time.perf_counter()
        Experiment(experiment_name="again", root=root).register(data=array)
        again.append(time.perf_counter() - start)
        again_bytes.append(du(root) - first_bytes[-1])

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/tmp")) as tmp:
        for i in range(args.repeat + 1):  # round 0 warms up imports and the disk: not counted
            work = Path(tmp) / f"round{i}"
            work.mkdir()
            for step in (np_save, register) if i % 2 else (register, np_save):
                step(work, i)
            shutil.rmtree(work)
            os.sync()  # deletes settle before the next round
            if i == 0:
                for times in (save, durable, first, again, first_bytes, again_bytes):
                    times.clear()
    med = statistics.median
    # Each round's own ratio: runs seconds apart share the machine's state (noise).
    paired = med(f / s for f, s in zip(first, save, strict=True))
    paired_durable = med(f / d for f, d in zip(first, durable, strict=True))
    print(f"data: {array.nbytes / 2**20:,.0f} MiB float64 array, {args.repeat} rounds; "
          "median (best) seconds")
    print(f"np.save:                    {med(save):7.3f} ({min(save):.3f}) s  "
          "(no fsync: not yet durable)")
    print(f"np.save + fsync:            {med(durable):7.3f} ({min(durable):.3f}) s")
    print(f"register (first time):      {med(first):7.3f} ({min(first):.3f}) s  = "
          f"{paired:.2f}x np.save ({min(first) / min(save):.2f}x best to best), "
          f"{paired_durable:.2f}x np.save + fsync, {med(first_bytes) / 2**20:,.0f} MiB on disk")
    print(f"register (same data again): {med(again):7.3f} ({min(again):.3f}) s  = "
          f"{med(a / f for a, f in zip(again, first, strict=True)):.2f}x the first, "
          f"{med(again_bytes) / 2**10:,.0f} KiB more on disk")
    print("(ratios are medians of each round's ratio: a round's runs are seconds apart)")

if __name__ == "__main__":
    main()
