"""Reading experiments back: ``lineage.load()`` and the object it returns."""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from . import layout, serializers
from .errors import ArtifactError
from .registry import Registry

SetRef = int | str | None
ExperimentRef = int | str | None


class LoadedExperiment:
    """A stored experiment: its record, metrics and notes; model, data and results on demand.

    ``model``, ``data`` and ``results`` are read with joblib or pickle, which can run code:
    load experiments only from registries you trust. Nothing else here unpickles anything.
    """

    def __init__(self, registry: Registry, record: dict[str, Any]) -> None:
        self.registry = registry
        self.record = record
        self.path: Path = registry.experiment_path(record["set"]["number"], record["number"])

    def __repr__(self) -> str:
        return f"<LoadedExperiment {self.set_number}/{self.number} {self.name!r} {self.status}>"

    def __getitem__(self, key: str) -> Any:
        return self.record[key]

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def number(self) -> int:
        return int(self.record["number"])

    @property
    def set_number(self) -> int:
        return int(self.record["set"]["number"])

    @property
    def name(self) -> str:
        return str(self.record["name"])

    @property
    def description(self) -> str:
        return str(self.record.get("description") or "")

    @property
    def status(self) -> str:
        """``registered``, ``failed``, ``running``, or ``crashed`` (running, process gone)."""
        return self.registry.effective_status(self.record)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        return dict(self.record.get("hyperparameters") or {})

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.record.get("metrics") or {})

    @property
    def tags(self) -> dict[str, Any]:
        return dict(self.record.get("tags") or {})

    @property
    def artifacts(self) -> list[dict[str, Any]]:
        return list(self.record.get("artifacts") or [])

    def artifact_path(self, role_or_path: str) -> Path:
        """Path of an artifact by role (``"model"``) or manifest path (``"data/data.joblib"``).

        Raises:
            ArtifactError: the experiment has no such artifact.
        """
        entry = self._entry(role_or_path)
        return layout.artifact(self.path, entry["path"])

    def _entry(self, role_or_path: str) -> dict[str, Any]:
        for entry in self.artifacts:
            if role_or_path in (entry["role"], entry["path"]):
                return entry
        have = ", ".join(e["path"] for e in self.artifacts) or "none"
        raise ArtifactError(
            f"experiment {self.set_number}/{self.number} has no artifact {role_or_path!r}; "
            f"it has: {have}"
        )

    @cached_property
    def release_notes(self) -> str | None:
        """The release notes as Markdown, or None when none were registered."""
        try:
            return self.artifact_path("releasenotes").read_text(encoding="utf-8")
        except ArtifactError:
            return None

    @cached_property
    def steps(self) -> dict[str, list[tuple[int, float]]]:
        """Step metrics: name -> [(step, value), …] in logging order."""
        path = layout.artifact(self.path, layout.METRICS)
        curves: dict[str, list[tuple[int, float]]] = {}
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash mid-write
                    curves.setdefault(row["name"], []).append((row["step"], row["value"]))
        except FileNotFoundError:
            pass
        return curves

    def _load(self, role: str) -> Any:
        entry = self._entry(role)
        return serializers.load(
            layout.artifact(self.path, entry["path"]), entry.get("serializer", "joblib"),
            entry.get("type"),
        )

    @cached_property
    def model(self) -> Any:
        """The registered model (trusted registries only: unpickles)."""
        return self._load("model")

    @cached_property
    def data(self) -> Any:
        """The registered data set (trusted registries only: unpickles)."""
        return self._load("data")

    @cached_property
    def results(self) -> Any:
        """The registered results object (trusted registries only: unpickles)."""
        return self._load("results")


def load(
    set: SetRef = None,  # noqa: A002 - the name users read in the docs
    experiment: ExperimentRef = None,
    *,
    root: str | os.PathLike[str] | None = None,
) -> LoadedExperiment:
    """Load an experiment by set and experiment (numbers, names or ``"latest"``).

    Without arguments, the newest experiment of the newest set.

    Example::

        exp = lineage.load(1, 3)
        exp.metrics["f1"], exp.model.predict(X)

    Raises:
        SetNotFoundError, ExperimentNotFoundError: nothing matches; the message lists what exists.
    """
    registry = Registry.open(root)
    set_record = registry.find_set("latest" if set is None else set)
    record = registry.find_experiment(
        set_record["number"], "latest" if experiment is None else experiment
    )
    return LoadedExperiment(registry, record)
