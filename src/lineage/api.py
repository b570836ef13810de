"""Reading experiments back: ``lineage.load()`` and the object it returns."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import layout, serializers
from .errors import (
    ArtifactError,
    CorruptRecordError,
    LineageWarning,
    MetricNotFoundError,
    ValidationError,
)
from .record import RecordIdentity
from .registry import Registry

if TYPE_CHECKING:
    from .comparison import Comparison
    from .housekeeping import Plan
    from .integrity import Report

SetRef = int | str | None
ExperimentRef = int | str | None


class LoadedExperiment(RecordIdentity):
    """A stored experiment: its record, metrics and notes; model, data and results on demand.

    ``model``, ``data`` and ``results`` are read back as their manifest entry says. joblib
    and pickle (the defaults) can run code: load those only from registries you trust.
    Artifacts registered with ``safe=True`` (skops, npy, npz, parquet, json) and PyTorch
    state dicts (read with ``weights_only=True``) never run code. Nothing else here reads
    any of them.
    """

    def __init__(self, registry: Registry, record: dict[str, Any], *, full: bool = True) -> None:
        self.registry = registry
        self._record = record
        self._full = full

    @cached_property
    def path(self) -> Path:
        """The experiment's folder."""
        return self.registry.experiment_path(self.set_number, self.number)

    @property
    def record(self) -> dict[str, Any]:
        """The whole ``experiment.json`` (search results are read from the index until asked)."""
        if not self._full:
            self._record = self.registry.read_record(self.set_number, self.number)
            self._full = True
        return self._record

    def __repr__(self) -> str:
        return f"<LoadedExperiment {self.set_number}/{self.number} {self.name!r} {self.status}>"

    def __getitem__(self, key: str) -> Any:
        return self._record[key] if key in self._record else self.record[key]

    def _repr_html_(self) -> str:
        from .display import experiments_html

        return experiments_html([self._record], [self.status])

    @property
    def status(self) -> str:
        """``registered``, ``failed``, ``running``, or ``crashed`` (running, process gone)."""
        return self.registry.effective_status(self._record)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        return dict(self._record.get("hyperparameters") or {})

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self._record.get("metrics") or {})

    @property
    def tags(self) -> dict[str, Any]:
        return dict(self._record.get("tags") or {})

    @property
    def artifacts(self) -> list[dict[str, Any]]:
        return list(self._record.get("artifacts") or [])

    def promote(self, alias: str) -> LoadedExperiment:
        """Give this experiment an alias (``"production"``), taking it from whoever held it."""
        self.registry.set_alias(alias, self._record)
        return self

    def tag(self, **tags: Any) -> LoadedExperiment:
        """Add or change tags without touching the immutable record (``None`` removes one)."""
        self._record = {**self._record, "tags": self.registry.set_tags(self._record, tags)}
        if self._full:
            self._full = False  # re-read on demand, with the new tags merged in
        return self

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

    def _load(self, role: str, trusted: Sequence[str] | None = None) -> Any:
        entry = self._entry(role)
        return serializers.load(layout.artifact(self.path, entry["path"]), entry, trusted=trusted)

    @cached_property
    def model(self) -> Any:
        """The registered model, loaded on first access.

        joblib (the default) unpickles: trusted registries only. A PyTorch model is its state
        dict: build the module and call ``module.load_state_dict(exp.model)``. A skops model
        holding types skops does not trust by default raises; see :meth:`load_model`.
        """
        return self._load("model")

    def load_model(self, trusted: Sequence[str] | None = None) -> Any:
        """The registered model, with ``trusted`` types allowed in a skops file.

        skops refuses types it does not trust by default (a tree's node storage, a custom
        estimator); the error of ``exp.model`` lists them. After reviewing them, load with
        ``exp.load_model(trusted=["sklearn.tree._tree.Tree"])``. ``exp.model`` then returns
        the same object.
        """
        model = self._load("model", trusted)
        self.__dict__["model"] = model
        return model

    @cached_property
    def data(self) -> Any:
        """The registered data set (joblib unpickles: trusted registries only)."""
        return self._load("data")

    @cached_property
    def results(self) -> Any:
        """The registered results object (pickle: trusted registries only)."""
        return self._load("results")


class Experiments(list[LoadedExperiment]):
    """A list of experiments, as ``search()`` returns them."""

    def to_records(self) -> list[dict[str, Any]]:
        return [e._record for e in self]

    def _repr_html_(self) -> str:
        from .display import experiments_html

        return experiments_html(self.to_records(), [e.status for e in self])

    def to_pandas(self) -> Any:
        """One row per experiment: ``set``, ``number``, ``name``, versions, status, times,
        then ``params.*``, ``metrics.*`` and ``tags.*`` columns."""
        import pandas as pd

        rows = []
        for e in self:
            r = e._record
            row: dict[str, Any] = {
                "set": e.set_number, "number": e.number, "name": e.name,
                "status": e.status, "model_version": r.get("model_version"),
                "data_version": r.get("data_version"), "created": r.get("created"),
                "ended": r.get("ended"), "duration": r.get("duration"),
            }
            for prefix, key in (("params", "hyperparameters"), ("metrics", "metrics"),
                                ("tags", "tags")):
                for k, v in (r.get(key) or {}).items():
                    row[f"{prefix}.{k}"] = v
            rows.append(row)
        frame = pd.DataFrame(rows)
        for column in ("created", "ended"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        return frame


def _open(root: str | os.PathLike[str] | None) -> Registry:
    return Registry.open(root)


def set_summaries(registry: Registry) -> list[dict[str, Any]]:
    """Every set of a registry with its counts: ``experiments``, ``running``, ``crashed``
    (running, but its process is gone), ``failed`` and ``last_activity``, oldest set first."""
    from . import query

    index = registry.synced_index()
    stats = index.set_stats()
    live: dict[int, dict[str, int]] = {}
    for record in index.search(query.parse("status = 'running'")):
        status = registry.effective_status(record)
        counts = live.setdefault(record["set"]["number"], {})
        counts[status] = counts.get(status, 0) + 1
    rows = []
    for s in registry.sets():
        stat = stats.get(s["number"], {})
        counts = live.get(s["number"], {})
        rows.append({
            **s,
            "experiments": stat.get("experiments", 0),
            "running": counts.get("running", 0),
            "crashed": counts.get("crashed", 0),
            "failed": stat.get("failed", 0) + counts.get("failed", 0),
            "last_activity": stat.get("last_activity") or s.get("created"),
        })
    return rows


def sets(*, root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """The registry's experiment sets with their counts and last activity.

    Example::

        [(s["number"], s["name"], s["experiments"]) for s in lineage.sets()]
    """
    return set_summaries(_open(root))


def load(
    set: SetRef = None,  # noqa: A002 - the name users read in the docs
    experiment: ExperimentRef = None,
    *,
    alias: str | None = None,
    root: str | os.PathLike[str] | None = None,
) -> LoadedExperiment:
    """Load an experiment by set and experiment (numbers, names or ``"latest"``), or by alias.

    Without arguments, the newest experiment of the newest set.

    Example::

        exp = lineage.load(1, 3)
        prod = lineage.load(alias="production")
        exp.metrics["f1"], prod.model.predict(X)

    Raises:
        SetNotFoundError, ExperimentNotFoundError, AliasNotFoundError: nothing matches; the
        message lists what exists.
    """
    registry = _open(root)
    if alias is not None:
        held = registry.alias_target(alias)
        return LoadedExperiment(registry, registry.read_record(held["set"], held["number"]))
    set_record = registry.find_set("latest" if set is None else set)
    record = registry.find_experiment(
        set_record["number"], "latest" if experiment is None else experiment
    )
    return LoadedExperiment(registry, record)


def search(
    set: SetRef = None,  # noqa: A002
    where: str | None = None,
    order_by: str | Sequence[str] | None = None,
    limit: int | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
) -> Experiments:
    """Experiments matching a filter, from the index (see docs/query.md).

    Example::

        lineage.search(1, "metrics.f1 > 0.8 and params.max_depth >= 10", "-metrics.f1", 10)

    Raises:
        QueryError: a malformed filter, with the position and what was expected.
        SetNotFoundError: ``set`` names no set.
    """
    from . import query

    node = query.parse(where) if where is not None and where.strip() else None
    order = query.parse_order_by(order_by)
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValidationError(f"limit must be a non-negative integer, not {limit!r}")
    registry = _open(root)
    set_number = registry.find_set(set)["number"] if set is not None else None
    records = registry.synced_index().search(node, order, limit, set_number)
    return Experiments(LoadedExperiment(registry, r, full=False) for r in records)


def best(
    set: SetRef,  # noqa: A002
    metric: str,
    mode: str = "max",
    *,
    where: str | None = None,
    root: str | os.PathLike[str] | None = None,
) -> LoadedExperiment:
    """The registered experiment of a set with the highest (``mode="max"``) or lowest
    (``"min"``) value of ``metric``.

    Example::

        lineage.best(1, "f1").promote("production")

    Raises:
        ValidationError: ``mode`` is not "max" or "min".
        MetricNotFoundError: no registered experiment has the metric (the message lists
        the metrics the set has).
    """
    from . import query

    if mode not in ("max", "min"):
        raise ValidationError(f"mode must be 'max' or 'min', not {mode!r}")
    field = query.Field("metrics", metric)
    condition = f"status = 'registered' and {field} exists"
    if where:
        condition += f" and ({where})"
    found = search(set, condition, [f"{'-' if mode == 'max' else ''}{field}"], 1, root=root)
    if found:
        return found[0]
    registry = _open(root)
    set_number = registry.find_set("latest" if set is None else set)["number"]
    known = registry.synced_index().keys("metrics", set_number)
    raise MetricNotFoundError(
        f"no registered experiment of set {set_number} has the metric {metric!r}"
        + (f" matching {where!r}" if where else "")
        + f"; metrics in this set: {', '.join(known) or 'none'}"
    )


def compare(
    set: SetRef,  # noqa: A002
    experiments: Sequence[ExperimentRef] | None = None,
    *,
    only_diff: bool = False,
    baseline: int = 0,
    root: str | os.PathLike[str] | None = None,
) -> Comparison:
    """Experiments side by side: every param, version, metric (with deltas against the
    ``baseline``-th experiment and the best marked), data fingerprint and environment.

    ``experiments`` defaults to every experiment of the set; ``only_diff`` keeps what differs.
    """
    from .comparison import compare as build

    registry = _open(root)
    set_number = registry.find_set("latest" if set is None else set)["number"]
    if experiments is None:
        problems: list[CorruptRecordError] = []
        records = list(registry.iter_records(set_number, problems))
        for problem in problems:
            warnings.warn(f"skipped {problem}", LineageWarning, stacklevel=2)
    else:
        records = [
            registry.find_experiment(set_number, "latest" if ref is None else ref)
            for ref in experiments
        ]
    if not records:
        raise ValidationError(f"set {set_number} has no experiments to compare")
    if not 0 <= baseline < len(records):
        raise ValidationError(f"baseline must be an index from 0 to {len(records) - 1}")
    return build(records, only_diff=only_diff, baseline=baseline)


def alias(
    set: SetRef,  # noqa: A002
    experiment: ExperimentRef,
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
) -> LoadedExperiment:
    """Point the alias ``name`` (``"production"``, ``"staging"``…) at an experiment."""
    return load(set, experiment, root=root).promote(name)


def aliases(*, root: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """Current aliases: name → ``{"set", "number", "id", "since", "by"}``."""
    return _open(root).aliases()["current"]


def alias_history(
    name: str | None = None, *, root: str | os.PathLike[str] | None = None
) -> list[dict[str, Any]]:
    """Who held which alias when, oldest first (of one alias, or all)."""
    history = _open(root).aliases()["history"]
    return [h for h in history if name is None or h["alias"] == name]


def used_data(
    data: Any, *, root: str | os.PathLike[str] | None = None
) -> Experiments:
    """Every experiment that was trained on the same data, oldest first.

    ``data`` is a fingerprint (``"blake3:…"``), an experiment (as ``load()`` or
    ``Experiment`` give them), or the data itself (arrays, frames, tuples of them).

    Example::

        lineage.used_data(lineage.load(1, 3))   # what else trained on experiment 1/3's data
    """
    fingerprint = _fingerprint_of(data)
    return search(where=f"data_fingerprint = '{fingerprint}'", root=root)


def _fingerprint_of(data: Any) -> str:
    if isinstance(data, str) and data.startswith("blake3:"):
        return data
    record = getattr(data, "_record", None)
    if isinstance(record, dict):
        fingerprint = (record.get("data") or {}).get("fingerprint")
        if not fingerprint:
            raise ValidationError(
                f"experiment {record['set']['number']}/{record['number']} has no data "
                "fingerprint (no data was registered, or of a type lineage cannot fingerprint)"
            )
        return str(fingerprint)
    from .fingerprint import fingerprint as compute

    found = compute(data)
    if found is None:
        raise ValidationError(
            f"cannot fingerprint data of type {type(data).__name__}; pass a fingerprint "
            "('blake3:…'), an experiment, or arrays / data frames / tuples of them"
        )
    return found


def trace(
    set: SetRef,  # noqa: A002
    experiment: ExperimentRef = None,
    *,
    root: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The lineage of an experiment's data: who else used the same data, and which model
    versions of its set came from which data versions.

    Returns ``{"experiment", "data", "same_data": [records], "data_versions":
    {data_version: [{"model_version", "experiment", "fingerprint"}]}}``.
    """
    exp = load(set, experiment, root=root)
    data = exp._record.get("data") or {}
    same = used_data(exp, root=root).to_records() if data.get("fingerprint") else []
    versions: dict[str, list[dict[str, Any]]] = {}
    for other in search(exp.set_number, "status = 'registered'", root=root):
        r = other._record
        versions.setdefault(str(r.get("data_version")), []).append({
            "model_version": r.get("model_version"),
            "experiment": other.address,
            "fingerprint": (r.get("data") or {}).get("fingerprint"),
        })
    return {
        "experiment": {"address": exp.address, "id": exp.id, "name": exp.name},
        "data": data,
        "same_data": same,
        "data_versions": versions,
    }


def verify(
    set: SetRef = None,  # noqa: A002
    experiment: ExperimentRef = None,
    *,
    quick: bool = False,
    root: str | os.PathLike[str] | None = None,
) -> Report:
    """Check stored files against their records: the registry, a set, or one experiment.

    Re-hashes every artifact (``quick``: presence and sizes only) and reports missing,
    truncated, changed and unlisted files, objects missing or corrupt in the store, corrupt
    records, symlinks and special files. Test ``report.ok``; ``report.problems`` lists
    ``(kind, path, expected, actual, message)``; ``report.raise_for_problems()`` raises
    IntegrityError. See ``lineage verify`` (docs/cli.md).
    """
    from . import integrity

    return integrity.verify(_open(root), set, experiment, quick=quick)


def gc(
    *,
    older_than: float = 7 * 86400.0,
    dry_run: bool = True,
    root: str | os.PathLike[str] | None = None,
) -> Plan:
    """Remove objects no manifest references, abandoned staging files, and experiments that
    crashed more than ``older_than`` seconds ago. A dry run (the default) only plans:
    ``plan.items`` says what would go and ``plan.kept`` what is kept and why.
    """
    from . import housekeeping

    return housekeeping.gc(_open(root), older_than=older_than, dry_run=dry_run)


def du(*, root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Bytes per set and in all: ``logical`` (what manifests list), ``unique`` (each object
    once), ``saved`` by deduplication, and the registry's size on disk."""
    from . import housekeeping

    return housekeeping.du(_open(root))
