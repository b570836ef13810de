"""lineage: track machine learning experiments in a plain ``.lineage/`` folder.

    from lineage import Experiment
    exp = Experiment(experiment_name="Random Forest", model_version="0.0.1")
    ...
    exp.register(model=clf, data=(X, y), results=report)

Only light modules are imported here; numpy, joblib and friends load when first used.
"""

from __future__ import annotations

from .api import (
    Experiments,
    LoadedExperiment,
    alias,
    alias_history,
    aliases,
    best,
    compare,
    du,
    gc,
    load,
    search,
    sets,
    trace,
    used_data,
    verify,
)
from .errors import (
    AlreadyRegisteredError,
    ArtifactError,
    CaptureWarning,
    LineageError,
    LineageWarning,
    NotFoundError,
    QueryError,
    SerializationError,
    StorageError,
    ValidationError,
)
from .experiment import Experiment

__version__ = "0.1.0"

__all__ = [
    "AlreadyRegisteredError",
    "ArtifactError",
    "CaptureWarning",
    "Experiment",
    "Experiments",
    "LineageError",
    "LineageWarning",
    "LoadedExperiment",
    "NotFoundError",
    "QueryError",
    "SerializationError",
    "StorageError",
    "ValidationError",
    "alias",
    "alias_history",
    "aliases",
    "best",
    "compare",
    "du",
    "gc",
    "load",
    "search",
    "sets",
    "trace",
    "used_data",
    "verify",
]
