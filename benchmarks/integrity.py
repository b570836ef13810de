"""Verifying large artifacts: lineage verify against hashing the same files with blake3.

    python -m benchmarks.integrity [--size-mb 1024] [--repeat 3] [--cold]

Registers one array of ``--size-mb`` MB (a 1 GB numpy array by default), then times, in
interleaved rounds: hashing every artifact file of the experiment with blake3 directly (what
``b3sum`` does: ``blake3(max_threads=AUTO)`` over the file in 1 MB chunks), and a full
``integrity.verify()`` of the registry (every record read, every manifest entry checked,
every artifact and object re-hashed, each inode once). ``--quick`` mode is timed too.
The goal (issue 4): verify within 1.5x of the direct hash.

Files are in the page cache (hot) unless ``--cold``, which drops the caches before each
timing (root only). ``BENCH_DIR`` chooses the disk (default /tmp).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def b3sum(paths: list[Path]) -> dict[Path, str]:
    """What ``b3sum`` computes: blake3 of each file, multithreaded, in chunks."""
    from blake3 import blake3

    found = {}
    for path in paths:
        h = blake3(max_threads=blake3.AUTO)
        with open(path, "rb") as f:
            while chunk := f.read(1024 * 1024):
                h.update(chunk)
        found[path] = h.hexdigest()
    return found


def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    import numpy as np

    from lineage import Experiment, integrity, layout
    from lineage.registry import Registry

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each")
    args = parser.parse_args(argv)
    os.environ.setdefault("LINEAGE_CAPTURE_GIT", "0")
    base = os.environ.get("BENCH_DIR", "/tmp")
    free = shutil.disk_usage(base).free
    if free < 3 * args.size_mb * 1024 * 1024:
        raise SystemExit(f"{base} has {free / 2**30:.1f} GiB free; {args.size_mb} MB needs "
                         f"about three times that (array, object, margin). Try --size-mb.")
    if args.cold and not drop_caches():
        raise SystemExit("--cold needs root (writing /proc/sys/vm/drop_caches)")

    array = np.random.default_rng(0).random(args.size_mb * 1024 * 1024 // 8)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        root = Path(tmp) / ".lineage"
        start = time.perf_counter()
        exp = Experiment(experiment_name="big", root=root)
        exp.register(data=array)
        registered = time.perf_counter() - start
        del array
        registry = Registry.open(root)
        record = registry.read_record(exp.set_number, exp.number)
        folder = registry.experiment_path(exp.set_number, exp.number)
        files = sorted({layout.artifact(folder, e["path"]) for e in record["artifacts"]})
        size = sum(p.stat().st_size for p in files)

        direct, full, quick = [], [], []

        def time_direct() -> None:
            if args.cold:
                drop_caches()
            start = time.perf_counter()
            b3sum(files)
            direct.append(time.perf_counter() - start)

        def time_verify() -> None:
            if args.cold:
                drop_caches()
            start = time.perf_counter()
            report = integrity.verify(registry)
            full.append(time.perf_counter() - start)
            assert report.ok, report.problems
            assert report.hashed_bytes == size, (report.hashed_bytes, size)

        for i in range(args.repeat):  # interleaved, in alternating order: drift hits both
            for run in (time_direct, time_verify) if i % 2 == 0 else (time_verify, time_direct):
                run()
            start = time.perf_counter()
            assert integrity.verify(registry, quick=True).ok
            quick.append(time.perf_counter() - start)

    d, f, q = (statistics.median(x) for x in (direct, full, quick))
    mb = size / 1e6
    print(f"artifacts: {len(files)} files, {mb:,.0f} MB ({'cold' if args.cold else 'hot'} "
          f"page cache), {os.cpu_count()} cores; registered in {registered:.2f} s")
    print(f"blake3 directly (b3sum-equivalent): {d:.3f} s  ({mb / d:,.0f} MB/s)")
    print(f"lineage verify:                     {f:.3f} s  ({mb / f:,.0f} MB/s)")
    print(f"lineage verify --quick:             {q * 1000:.1f} ms")
    print(f"ratio verify / blake3: {f / d:.2f}x of the medians, {min(full) / min(direct):.2f}x "
          f"of the best of {args.repeat} (goal: within 1.5x)")


if __name__ == "__main__":
    main()
