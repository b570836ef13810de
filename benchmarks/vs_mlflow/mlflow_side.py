"""MLflow's half of each case, run in a worker process of MLflow's own venv.

The backend is chosen by URI: ``sqlite:////abs/mlflow.db`` (MLflow 3's default local
backend, ``sqlite:///mlflow.db`` in the working directory) or ``file:///abs/mlruns`` (the
older file store, which MLflow 3 refuses unless ``MLFLOW_ALLOW_FILE_STORE=true``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .common import LIMIT, METRICS, MLFLOW_ORDER, PARAMS, WHERE, du, make_array, train_forest

EXPERIMENT = "bench"
_experiment_id: str | None = None


def version() -> dict[str, str]:
    import mlflow
    import numpy
    import sklearn

    return {"mlflow": mlflow.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__}


def _use(uri: str, experiment: str = EXPERIMENT) -> str:
    import mlflow

    if uri.startswith("file:"):
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri(uri)
    return str(mlflow.set_experiment(experiment).experiment_id)


def setup(uri: str) -> None:
    global _experiment_id
    _experiment_id = _use(uri)


def one_run(count: int, tag: str = "run") -> list[float]:
    """ms per run: start, 10 params, 10 final metrics, end (the batch calls, MLflow's fastest)."""
    import mlflow

    samples = []
    for i in range(count):
        start = time.perf_counter()
        with mlflow.start_run(run_name=f"{tag} {i}"):
            mlflow.log_params(PARAMS)
            mlflow.log_metrics(METRICS)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def steps(calls: int, synchronous: bool = True) -> dict[str, float]:
    """µs per ``log_metric(step=i)`` call, and ms from the last call until the run has ended
    (synchronous calls are on disk when they return; asynchronous ones when end_run returns)."""
    import mlflow

    run = mlflow.start_run(run_name="steps")
    log = mlflow.log_metric
    start = time.perf_counter()
    for i in range(calls):
        log("loss", 1.0 / (i + 1), step=i, synchronous=synchronous)
    loop = time.perf_counter() - start
    start = time.perf_counter()
    mlflow.end_run()
    durable = time.perf_counter() - start
    if not synchronous:  # check nothing was dropped
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss")
        if len(history) != calls:
            raise RuntimeError(f"{len(history)} of {calls} asynchronous step values stored")
    return {"per_call_us": loop / calls * 1e6, "loop_ms": loop * 1000,
            "durable_ms": durable * 1000, "total_ms": (loop + durable) * 1000}


def artifacts(workdir: str, uri: str, size_mb: int, copies: int) -> dict[str, Any]:
    """The same work as lineage's: model + data, then the data in ``copies`` more runs.

    The data set is written with ``np.save`` inside the first timing (MLflow logs files) and
    logged from that file by the other runs; the model with ``mlflow.sklearn.log_model``
    (default settings — it infers pip requirements — but for the trusted tree type)."""
    import mlflow
    import mlflow.sklearn
    import numpy as np

    here = os.getcwd()
    os.chdir(workdir)
    try:
        _use(uri, "artifacts")
        clf, train_ms = train_forest()
        array = make_array(size_mb)
        data_file = Path(workdir).parent / f"{Path(workdir).name}-data.npy"  # outside the store
        default_error = _default_log_model_error(clf, Path(workdir).parent)
        start = time.perf_counter()
        with mlflow.start_run(run_name="forest"):
            mlflow.log_params(clf.get_params())
            mlflow.sklearn.log_model(clf, name="model", skops_trusted_types=TRUSTED)
            np.save(data_file, array)
            mlflow.log_artifact(str(data_file), artifact_path="data")
        first_ms = (time.perf_counter() - start) * 1000
        first_bytes = du(workdir)
        start = time.perf_counter()
        for i in range(copies):
            with mlflow.start_run(run_name=f"same data {i}"):
                mlflow.log_artifact(str(data_file), artifact_path="data")
        copies_ms = (time.perf_counter() - start) * 1000
        total = du(workdir)
        data_file.unlink()
    finally:
        os.chdir(here)
    return {"train_ms": train_ms, "first_ms": first_ms, "first_bytes": first_bytes,
            "copies_ms": copies_ms, "total_bytes": total, "data_bytes": int(array.nbytes),
            "log_model_error": default_error}


# MLflow 3.17 saves scikit-learn models with skops and refuses a RandomForest by default
# ("untrusted types"); its message says to trust the tree type, as a user then does.
TRUSTED = ["sklearn.tree._tree.Tree"]


def _default_log_model_error(clf: Any, scratch: Path) -> str | None:
    """What ``log_model(clf)`` with default settings says (tried once, outside the timing)."""
    import shutil

    import mlflow.sklearn

    target = scratch / "default-save-model"
    try:
        mlflow.sklearn.save_model(clf, str(target))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        shutil.rmtree(target, ignore_errors=True)


def search(uri: str, warmup: int, repeat: int) -> dict[str, Any]:
    """ms per ``MlflowClient.search_runs`` with the equivalent filter, order and limit."""
    from mlflow import MlflowClient

    experiment_id = _use(uri)
    client = MlflowClient()
    found: list[Any] = []
    samples = []
    for k in range(warmup + repeat):
        start = time.perf_counter()
        found = list(client.search_runs([experiment_id], WHERE, order_by=[MLFLOW_ORDER],
                                        max_results=LIMIT))
        elapsed = (time.perf_counter() - start) * 1000
        if k >= warmup:
            samples.append(elapsed)
    return {"samples": samples, "top": [round(r.data.metrics["f1"], 12) for r in found]}


def count_runs(uri: str) -> int:
    from mlflow import MlflowClient

    experiment_id = _use(uri)
    client = MlflowClient()
    total, token = 0, None
    while True:
        page = client.search_runs([experiment_id], max_results=50000, page_token=token)
        total += len(page)
        token = page.token
        if not token:
            return total


def one_run_in(uri: str, count: int) -> list[float]:
    """Case 7: ms per run like ``one_run``, added to a large existing experiment."""
    _use(uri)
    return one_run(count, "scaling")
