"""What both sides share; standard library only (it is imported in MLflow's venv too)."""

from __future__ import annotations

import os
import time
from pathlib import Path

# Case 5: a filter both query languages accept with the same meaning (MLflow stores params as
# strings and compares them only with =, !=, LIKE, IN), ordered, top 10.
WHERE = "metrics.f1 > 0.5 and params.criterion = 'gini'"
LINEAGE_ORDER = "-metrics.f1"
MLFLOW_ORDER = "metrics.f1 DESC"
LIMIT = 10

PARAMS = {f"p{i}": i * 3 + 1 for i in range(10)}
METRICS = {f"m{i}": i / 10 + 0.05 for i in range(10)}


def du(path: str | os.PathLike[str]) -> int:
    """Bytes allocated under ``path``, each inode once (hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def file_count(path: str | os.PathLike[str]) -> int:
    return sum(len(files) for _, _, files in os.walk(path))


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def make_array(size_mb: int):  # noqa: ANN201 - numpy is imported lazily
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.random(size_mb * 1024 * 1024 // 8)


def train_forest():  # noqa: ANN201
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(4000, 20, random_state=0)
    start = time.perf_counter()
    clf = RandomForestClassifier(random_state=0).fit(X, y)
    return clf, (time.perf_counter() - start) * 1000


def fresh_dir(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p
