"""lineage: track machine learning experiments in a plain ``.lineage/`` folder.

    from lineage import Experiment
    exp = Experiment(experiment_name="Random Forest", model_version="0.0.1")
    ...
    exp.register(model=clf, data=(X, y), results=report)

Only light modules are imported here; numpy, joblib and friends load when first used.
"""

from __future__ import annotations

from .api import LoadedExperiment, load
from .errors import (
    AlreadyRegisteredError,
    ArtifactError,
    CaptureWarning,
    LineageError,
    LineageWarning,
    NotFoundError,
    SerializationError,
    ValidationError,
)
from .experiment import Experiment

__version__ = "0.1.0"

__all__ = [
    "AlreadyRegisteredError",
    "ArtifactError",
    "CaptureWarning",
    "Experiment",
    "LineageError",
    "LineageWarning",
    "LoadedExperiment",
    "NotFoundError",
    "SerializationError",
    "ValidationError",
    "load",
]
