"""``Experiment``: what a user creates around a training run, and registers at its end.

Creating one claims ``experiment_set_N/experiment_M`` at once (status ``running``) and starts
capturing git state in the background. Parameters and metrics are kept in memory; step
metrics are buffered (a deque append per call) and flushed by one background thread per
process. ``register()`` stages every artifact, publishes it, then writes ``experiment.json``
as the single commit point.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import random
import sys
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from . import _fs, env, layout, provenance, releasenotes, validation
from .errors import AlreadyRegisteredError, InvalidMetricError, LineageError, StateError
from .record import RecordIdentity
from .registry import Registry, new_id, now

_isfinite = __import__("math").isfinite
_time = time.time
_GIT_WAIT = 15.0


class Experiment(RecordIdentity):
    """One tracked training run.

    Example::

        exp = Experiment(experiment_name="Random Forest", model_version="0.0.1")
        exp.hyperparameters = {"max_depth": 10}
        for step, loss in enumerate(losses):
            exp.log_metric("loss", loss, step=step)
        exp.register(model=clf, data=(X, y), results=report)

    Raises:
        InvalidNameError: an empty name, one over 256 characters, or control characters.
        SetNotFoundError: ``set=`` names no existing set.
    """

    def __init__(
        self,
        new_set: bool = False,
        experiment_name: str = "experiment",
        experiment_description: str = "",
        model_version: str | None = None,
        data_version: str | None = None,
        root: str | os.PathLike[str] | None = None,
        set: int | str | None = None,  # noqa: A002 - the documented argument name
        set_name: str | None = None,
    ) -> None:
        name = validation.name(experiment_name, "experiment_name")
        description = validation.description(experiment_description, "experiment_description")
        versions = (
            validation.version(model_version, "model_version"),
            validation.version(data_version, "data_version"),
        )
        if set_name is not None:
            validation.name(set_name, "set_name")
        if new_set and set is not None:
            raise StateError("pass either new_set=True or set=..., not both")

        self._registry = registry = _registry_for(root)
        if set is not None:
            registry.check_format()
            set_record = registry.find_set(set)
        elif new_set:
            set_record = registry.create_set(set_name or name)
        else:
            set_record = registry.newest_or_first_set(set_name or name)

        number, path = registry.allocate_experiment(set_record["number"])
        self._path = path
        self._running_fd: int | None = _fs.lock_dir(path)  # released by the kernel at death
        from . import gitstate  # with the first experiment, not with `import lineage`

        self._git = gitstate.GitCapture(Path.cwd())
        self._lock = threading.Lock()
        self._steps: collections.deque[tuple[str, int, float, float]] = collections.deque()
        self._step_summary: dict[str, dict[str, Any]] = {}
        self._json_names: dict[str, str] = {}
        self._dirty = False
        self._data_summary: dict[str, Any] | None = None
        self._started = time.monotonic()
        self._record: dict[str, Any] = {
            "format": layout.FORMAT,
            "id": new_id(),
            "set": {
                "number": set_record["number"],
                "id": set_record["id"],
                "name": set_record["name"],
            },
            "number": number,
            "name": name,
            "description": description,
            "model_version": versions[0],
            "data_version": versions[1],
            "status": "running",
            "hyperparameters": {},
            "metrics": {},
            "step_metrics": {},
            "tags": {},
            "seed": None,
            "created": now(),
            "ended": None,
            "duration": None,
            "process": {"pid": os.getpid(), "host": provenance.static_info()["host"]},
            "provenance": {},
            "data": None,
            "results": None,
            "warnings": [],
            "error": None,
            "artifacts": [],
        }
        self.tags: dict[str, Any] = {}
        registry.write_record(self._record, durable=False)
        _flusher.add(self)

    # -- what it is ------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The experiment's folder, ``.../experiment_set_N/experiment_M``."""
        return self._path

    @property
    def status(self) -> str:
        return str(self._record["status"])

    @property
    def metrics(self) -> dict[str, float]:
        """Final metric values so far (the last value of each step metric included)."""
        self._flush()
        with self._lock:
            merged = {k: v["last"] for k, v in self._step_summary.items()}
            merged.update(self._record["metrics"])
        return merged

    @property
    def record(self) -> dict[str, Any]:
        """A copy of what ``experiment.json`` holds (or will hold at register)."""
        return json.loads(json.dumps(self._record))

    def __repr__(self) -> str:
        return (
            f"<Experiment {self.set_number}/{self.number} {self.name!r} {self.status}"
            f" at {self._path}>"
        )

    # -- what the user records -------------------------------------------------------------

    @property
    def hyperparameters(self) -> dict[str, Any]:
        return dict(self._record["hyperparameters"])

    @hyperparameters.setter
    def hyperparameters(self, value: Any) -> None:
        checked = validation.mapping(value, "hyperparameters")
        self._check_open()
        with self._lock:
            self._record["hyperparameters"] = checked
            self._dirty = True

    def log_params(self, params: Any = None, /, **kwargs: Any) -> None:
        """Add hyperparameters (a mapping, keyword arguments, or both) to those already set."""
        merged = dict(params or {}) if params is None or hasattr(params, "items") else params
        if not hasattr(merged, "items"):
            validation.mapping(merged, "hyperparameters")  # raises with a clear message
        checked = validation.mapping({**merged, **kwargs}, "hyperparameters")
        self._check_open()
        with self._lock:
            self._record["hyperparameters"].update(checked)
            self._dirty = True

    def log_metric(self, name: str, value: Any, step: int | None = None) -> None:
        """Record a metric: a final value, or with ``step`` one point of a curve.

        Step values are buffered in memory (about a microsecond a call) and flushed to
        ``metrics/metrics.jsonl`` every few seconds, at register and at exit.

        Raises:
            InvalidMetricError: a non-string name, or a value that is not a finite number.
        """
        if name not in self._json_names:
            validation.metric_name(name)
            self._json_names[name] = json.dumps(name, ensure_ascii=False)
        try:
            if not _isfinite(value) or value.__class__ is bool:
                raise TypeError
        except (TypeError, ValueError, OverflowError):
            validation.metric_value(name, value)  # raises with the reason
            raise InvalidMetricError(f"metric {name!r} has value {value!r}") from None
        if self._record["status"] != "running":
            self._check_open()
        if step is None:
            with self._lock:
                self._record["metrics"][name] = float(value)
                self._dirty = True
        else:
            if step.__class__ is not int:
                step = validation.step(name, step)
            self._steps.append((name, step, value, _time()))

    def log_metrics(self, metrics: Any, step: int | None = None) -> None:
        """``log_metric`` for each item of a mapping."""
        for name, value in dict(metrics).items():
            self.log_metric(name, value, step)

    def seed(self, seed: int) -> int:
        """Seed Python's ``random``, numpy and torch (where installed) and record the seed."""
        seed = int(validation.step("seed", seed))
        random.seed(seed)
        seeded = ["random"]
        import importlib.util

        if importlib.util.find_spec("numpy") is not None:
            import numpy

            numpy.random.seed(seed % 2**32)
            seeded.append("numpy")
        if "torch" in sys.modules or importlib.util.find_spec("torch") is not None:
            import torch

            torch.manual_seed(seed)
            seeded.append("torch")
        with self._lock:
            self._record["seed"] = {"value": seed, "libraries": seeded}
            self._dirty = True
        return seed

    def draft_release_note(self) -> str:
        """A Markdown release note from what is known now, against the previous experiment.

        Passed back unchanged to ``register(releasenotes=...)`` it is completed there with
        the data summary, results and metrics given to ``register``.
        """
        return releasenotes.Draft(
            releasenotes.render(self._snapshot(), self._previous()), self.id
        )

    # -- completion ----------------------------------------------------------------------------

    def register(
        self,
        model: Any = None,
        data: Any = None,
        exploration: str | os.PathLike[str] | None = None,
        releasenotes: str | os.PathLike[str] | None = None,
        results: Any = None,
        artifacts: dict[str, Any] | None = None,
        *,
        safe: bool = False,
    ) -> Experiment:
        """Store the artifacts and mark the experiment registered (immutable from then on).

        ``model`` and ``data`` are stored with joblib, ``results`` and extra objects with
        pickle (the seed's ``model/model.joblib``, ``data/data.joblib``,
        ``results/results.pickle``); a ``torch.nn.Module`` model as its state dict
        (``model/model.pt``). ``artifacts={"name": path}`` stores a file, or every file of a
        folder, under ``artifacts/name``. Without ``exploration``, inside Jupyter the running
        notebook is kept.

        ``safe=True`` stores only formats that cannot run code when loaded, for registries
        that are shared: skops for scikit-learn models, npy / npz for arrays, parquet for
        data frames, JSON for results and small values. Objects without such a format raise
        before anything is written.

        Raises:
            AlreadyRegisteredError: register() was already called.
            ArtifactError: an exploration or artifact path that is missing or unreadable, or
                an artifact folder holding a symbolic link or no file.
            SerializationError: an object that cannot be stored, by type (with ``safe=True``:
                one without a safe format, or whose library is not installed).
        """
        from . import registration

        self._check_open()
        registration.register(
            self,
            model=model,
            data=data,
            exploration=exploration,
            releasenotes=releasenotes,
            results=results,
            extra=artifacts,
            safe=safe,
        )
        return self

    def __enter__(self) -> Experiment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._record["status"] != "running":
            return
        if exc_type is None:
            self.register()
        else:
            self._fail(exc_type, exc, tb)

    # -- internals shared with registration and the flusher -----------------------------------

    def _check_open(self) -> None:
        status = self._record["status"]
        if status == "registered":
            raise AlreadyRegisteredError(
                f"experiment {self.set_number}/{self.number} is already registered and "
                "registered experiments are immutable; create a new Experiment to record more"
            )
        if status != "running":
            raise StateError(
                f"experiment {self.set_number}/{self.number} is {status}; "
                "create a new Experiment to record another run"
            )

    def _snapshot(self) -> dict[str, Any]:
        """The record as it stands, with step-metric summaries and provenance so far."""
        self._flush()
        git, _, _ = self._git.result(timeout=_GIT_WAIT)
        with self._lock:
            record = json.loads(json.dumps(self._record))
        record["provenance"].setdefault("git", git)
        for name, summary in record["step_metrics"].items():
            record["metrics"].setdefault(name, summary["last"])
        return record

    def _previous(self) -> dict[str, Any] | None:
        """The registered experiment of the same set just before this one, if any."""
        for n in reversed(self._registry.experiment_numbers(self.set_number)):
            if n >= self.number:
                continue
            try:
                record = self._registry.read_record(self.set_number, n)
            except Exception:
                continue
            if record.get("status") == "registered":
                return record
        return None

    def _flush(self, *, heartbeat: bool = False, record: bool = True) -> None:
        """Write buffered step metrics and, when changed, the running record.

        The running record is written atomically but not fsynced: it is not a commit point,
        and a power loss can at worst lose a record that never said ``registered``.
        """
        with self._lock:
            if self._steps:
                self._write_steps()
            if record and self._dirty and self._record["status"] == "running":
                self._dirty = False
                self._registry.write_record(self._record, durable=False)
        if heartbeat and self._running_fd is not None:
            try:
                os.utime(self._running_fd)
            except OSError:
                pass

    def _write_steps(self) -> None:
        steps = self._steps
        names = self._json_names
        summary = self._step_summary
        lines = []
        for _ in range(len(steps)):
            name, step, value, t = steps.popleft()
            value = float(value)
            lines.append(
                f'{{"name":{names[name]},"step":{step},"value":{value!r},"time":{t:.6f}}}\n'
            )
            s = summary.get(name)
            if s is None:
                summary[name] = {"count": 1, "first_step": step, "last_step": step,
                                 "last": value, "min": value, "max": value}
            else:
                s["count"] += 1
                s["last_step"] = step
                s["last"] = value
                if value < s["min"]:
                    s["min"] = value
                if value > s["max"]:
                    s["max"] = value
        target = layout.artifact(self._path, layout.METRICS)
        target.parent.mkdir(exist_ok=True)
        with open(target, "a", encoding="utf-8") as f:
            f.write("".join(lines))
        self._record["step_metrics"] = {k: dict(v) for k, v in summary.items()}
        self._dirty = True

    def _finish(self, status: str, **fields: Any) -> None:
        """Write the final record (durably) and release the running lock."""
        with self._lock:
            self._record.update(fields)
            self._record["status"] = status
            self._record["ended"] = now()
            self._record["duration"] = round(time.monotonic() - self._started, 6)
            self._registry.write_record(self._record)
        self._release()

    def _release(self) -> None:
        _flusher.discard(self)
        if self._running_fd is not None:
            os.close(self._running_fd)
            self._running_fd = None

    def _fail(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        reason: str | None = None,
    ) -> None:
        self._flush()
        error: dict[str, Any] = {"reason": reason or "an exception ended the run"}
        if exc_type is not None:
            error["type"] = exc_type.__name__
            error["message"] = str(exc)
            import traceback

            error["traceback"] = "".join(traceback.format_exception(exc_type, exc, tb))
        self._finish("failed", error=error)


def _registry_for(root: str | os.PathLike[str] | None) -> Registry:
    """One Registry object per root per process, so number hints are reused."""
    from .registry import find_root

    path = find_root(root)
    registry = _registries.get(path)
    if registry is None:
        registry = Registry(path)
        registry.ensure()
        _registries[path] = registry
    return registry


_registries: dict[Path, Registry] = {}


class _Flusher:
    """One daemon thread per process: flushes step metrics and beats every open experiment's
    heart; at exit, marks experiments that were never registered as failed."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[Experiment] = weakref.WeakSet()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._hooked = False

    def add(self, exp: Experiment) -> None:
        self._open.add(exp)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="lineage-flush", daemon=True)
            self._thread.start()
        if not self._hooked:
            self._hooked = True
            atexit.register(self._at_exit)
            previous = sys.excepthook

            def hook(t: type[BaseException], e: BaseException, tb: TracebackType | None) -> None:
                self._fail_all((t, e, tb), "an uncaught exception ended the process")
                previous(t, e, tb)

            sys.excepthook = hook

    def discard(self, exp: Experiment) -> None:
        self._open.discard(exp)

    def forget(self) -> None:
        """In a forked child: the open experiments are the parent's to finish, not ours (at
        the child's exit they must not be marked failed), and the thread was not copied."""
        self._open = weakref.WeakSet()
        self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait(env.flush_interval())
            for exp in list(self._open):
                try:
                    exp._flush(heartbeat=True)
                except Exception as exc:  # never kill training over a flush
                    exp._record["warnings"].append(f"metrics flush failed: {exc}")

    def _at_exit(self) -> None:
        self._fail_all((None, None, None), "the process exited before register() was called")

    def _fail_all(self, exc_info: tuple[Any, Any, Any], reason: str) -> None:
        """Mark every open experiment failed; one whose registry is gone is skipped."""
        for exp in list(self._open):
            if exp._record["status"] == "running":
                try:
                    exp._fail(*exc_info, reason)
                except (OSError, LineageError):
                    self.discard(exp)


_flusher = _Flusher()
os.register_at_fork(after_in_child=_flusher.forget)
