"""The registry on disk: finding it, allocating numbers, reading and writing sets and experiments.

This is the only module that writes inside ``.lineage/`` (through ``objects`` for blobs).
Numbers are claimed with ``mkdir`` (which fails when the folder exists), so concurrent
processes never share one; every JSON file is replaced atomically.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _fs, env, layout, provenance
from .errors import (
    AliasNotFoundError,
    CorruptRecordError,
    ExperimentNotFoundError,
    FormatVersionError,
    LineageWarning,
    RegistryError,
    SetNotFoundError,
    StateError,
)

if TYPE_CHECKING:
    from .index import Index

REQUIRED_KEYS = ("format", "id", "set", "number", "name", "status", "artifacts")
STALE_HEARTBEAT = 600.0  # seconds without a heartbeat before a remote run is called crashed


def now() -> str:
    """Current UTC time as ISO 8601 with microseconds."""
    return datetime.now(timezone.utc).isoformat()


def new_id() -> str:
    """A random (version 4) UUID, the stable identity of a set or an experiment.

    Built from ``os.urandom`` as ``uuid.uuid4()`` does, without importing ``uuid`` (3 ms,
    a tenth of a short run's whole process).
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _as_registry(path: Path) -> Path:
    """``path`` itself when it is a registry folder, else ``path/.lineage``."""
    if path.name == layout.DIRNAME or layout.marker(path).exists():
        return path
    return path / layout.DIRNAME


def _listing(records: list[dict[str, Any]], limit: int = 20) -> str:
    """``1 ('name'), 2 ('other'), …`` for an error message; the newest when there are many."""
    if not records:
        return "none yet"
    shown = ", ".join(f"{r['number']} ({r.get('name')!r})" for r in records[-limit:])
    return shown if len(records) <= limit else f"{len(records)} in all, the newest {shown}"


def find_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where the registry is: ``root``, else ``LINEAGE_ROOT``, else the nearest ``.lineage``
    walking up from the working directory (as git finds ``.git``), else ``./.lineage``.

    ``root`` may name the ``.lineage`` folder itself or the folder that holds it.
    """
    given = root if root is not None else env.root()
    if given is not None:
        return _as_registry(Path(given).expanduser().absolute())
    cwd = Path.cwd()
    for folder in (cwd, *cwd.parents):
        candidate = folder / layout.DIRNAME
        if candidate.is_dir():
            return candidate
    return cwd / layout.DIRNAME


class Registry:
    """One ``.lineage`` folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._next_number: dict[int, int] = {}
        self._index: Index | None = None

    # -- the index: a cache of the records, kept up to date by every write ------------------

    @property
    def index(self) -> Index:
        if self._index is None:
            from .index import Index

            self._index = Index(self.path)
        return self._index

    def synced_index(self, progress: Any = None) -> Index:
        """The index, brought up to date with the folders; unreadable records are warned of."""
        index = self.index
        for problem in index.sync(self, progress):
            warnings.warn(f"skipped {problem}", LineageWarning, stacklevel=3)
        return index

    def _indexed(self, action: Any, *args: Any) -> None:
        """Update the index; a failure is a warning (it is a cache, rebuilt by reindex)."""
        import sqlite3

        try:
            action(*args)
        except (sqlite3.Error, OSError) as exc:
            warnings.warn(
                f"the index at {self.index.path} was not updated ({exc}); queries may miss "
                "this change until `lineage reindex`", LineageWarning, stacklevel=3,
            )

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None, *, create: bool = False) -> Registry:
        """The registry at ``root`` (see :func:`find_root`); created when ``create`` is set.

        Raises:
            RegistryError: there is no registry and ``create`` is false.
            FormatVersionError: the registry was written by another format version.
        """
        registry = cls(find_root(root))
        if create:
            registry.ensure()
        elif not registry.path.is_dir():
            raise RegistryError(
                f"no lineage registry at {registry.path}; run an experiment first, "
                "or pass root= / set LINEAGE_ROOT to where your .lineage folder is"
            )
        else:
            registry.check_format()
        return registry

    # -- the registry itself ---------------------------------------------------------------

    def ensure(self) -> None:
        """Create the folder and its ``lineage.json`` when missing; check the format."""
        marker = layout.marker(self.path)
        if marker.exists():
            self.check_format()
            return
        self.path.mkdir(parents=True, exist_ok=True)
        with _fs.locked(layout.lock(self.path)):
            if not marker.exists():
                layout.objects_lock(self.path).touch()
                _fs.atomic_write_json(marker, {"format": layout.FORMAT, "created": now()})

    def check_format(self) -> None:
        marker = layout.marker(self.path)
        try:
            found = _fs.read_json(marker).get("format")
        except FileNotFoundError:
            return  # a folder made by hand or by an older tool: treated as format 1
        except (ValueError, AttributeError) as exc:
            raise CorruptRecordError(marker, f"not valid JSON ({exc})") from None
        if found != layout.FORMAT:
            raise FormatVersionError(
                f"{marker} says format {found!r}; this lineage reads format {layout.FORMAT}. "
                "Upgrade lineage (pip install -U lineage-ml) to read it"
            )

    # -- sets --------------------------------------------------------------------------------

    def set_numbers(self) -> list[int]:
        """Numbers of the sets whose ``set.json`` exists, ascending."""
        numbers = []
        try:
            entries = os.scandir(self.path)
        except FileNotFoundError:
            return []
        with entries:
            for entry in entries:
                n = layout.set_number(entry.name)
                if n is not None and os.path.exists(layout.set_json(Path(entry.path))):
                    numbers.append(n)
        return sorted(numbers)

    def read_set(self, number: int) -> dict[str, Any]:
        path = layout.set_json(layout.set_dir(self.path, number))
        try:
            record = _fs.read_json(path)
        except FileNotFoundError:
            raise SetNotFoundError(f"no experiment set {number} in {self.path}") from None
        except ValueError as exc:
            raise CorruptRecordError(path, f"not valid JSON ({exc})") from None
        if not isinstance(record, dict) or record.get("number") != number:
            raise CorruptRecordError(path, "not a set record written by lineage")
        return record

    def sets(self) -> list[dict[str, Any]]:
        return [self.read_set(n) for n in self.set_numbers()]

    def find_set(self, ref: int | str) -> dict[str, Any]:
        """A set by number (``1``, ``"1"``) or name (the newest set of that name).

        Raises:
            SetNotFoundError: listing the sets that exist.
        """
        numbers = self.set_numbers()
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            if int(ref) in numbers:
                return self.read_set(int(ref))
        elif isinstance(ref, str):
            if ref == "latest" and numbers:
                return self.read_set(numbers[-1])
            for n in reversed(numbers):
                record = self.read_set(n)
                if record.get("name") == ref:
                    return record
        known = ", ".join(f"{s['number']} ({s.get('name')!r})" for s in self.sets()) or "none yet"
        raise SetNotFoundError(f"no experiment set {ref!r} in {self.path}; sets: {known}")

    def create_set(self, name: str, description: str = "") -> dict[str, Any]:
        """Claim the next set number and write its ``set.json``."""
        self.ensure()
        numbers = self.set_numbers()
        number = (numbers[-1] if numbers else 0) + 1
        while True:
            folder = layout.set_dir(self.path, number)
            try:
                folder.mkdir()
                break
            except FileExistsError:
                number += 1
        record = {
            "format": layout.FORMAT,
            "id": new_id(),
            "number": number,
            "name": name,
            "description": description,
            "created": now(),
        }
        _fs.atomic_write_json(layout.set_json(folder), record)
        _fs.fsync_dir(self.path)
        self._indexed(self.index.upsert_set, record)
        return record

    def newest_or_first_set(self, name: str, description: str = "") -> dict[str, Any]:
        """The newest set; set 1 is created when there is none (once, across processes)."""
        numbers = self.set_numbers()
        if numbers:
            return self.read_set(numbers[-1])
        self.ensure()
        with _fs.locked(layout.lock(self.path)):
            numbers = self.set_numbers()
            if numbers:
                return self.read_set(numbers[-1])
            return self.create_set(name, description)

    # -- experiments --------------------------------------------------------------------------

    def experiment_path(self, set_number: int, number: int) -> Path:
        return layout.experiment_dir(layout.set_dir(self.path, set_number), number)

    def experiment_numbers(self, set_number: int) -> list[int]:
        """Numbers of the experiment folders of a set, ascending (records may be missing)."""
        folder = layout.set_dir(self.path, set_number)
        numbers = []
        try:
            entries = os.scandir(folder)
        except FileNotFoundError:
            return []
        with entries:
            for entry in entries:
                n = layout.experiment_number(entry.name)
                if n is not None:
                    numbers.append(n)
        return sorted(numbers)

    def allocate_experiment(self, set_number: int) -> tuple[int, Path]:
        """Claim the next experiment number of a set with an exclusive ``mkdir``."""
        number = self._next_number.get(set_number)
        if number is None:
            existing = self.experiment_numbers(set_number)
            number = (existing[-1] if existing else 0) + 1
        while True:
            folder = self.experiment_path(set_number, number)
            try:
                folder.mkdir()
            except FileExistsError:
                number += 1
                continue
            except FileNotFoundError:
                raise SetNotFoundError(
                    f"experiment set {set_number} vanished from {self.path}"
                ) from None
            self._next_number[set_number] = number + 1
            return number, folder

    def write_record(self, record: dict[str, Any], *, durable: bool = True) -> None:
        """Replace an experiment's ``experiment.json`` atomically.

        Final (durable) records are indexed at once; running ones are found by readers,
        which rescan a set whose folder changed and re-read records still running.
        """
        path = layout.experiment_json(
            self.experiment_path(record["set"]["number"], record["number"])
        )
        _fs.atomic_write_json(path, record, durable=durable)
        if durable:
            self._indexed(self.index.upsert, record, path.stat())

    def read_record(self, set_number: int, number: int) -> dict[str, Any]:
        """One ``experiment.json``, checked for the keys every record has.

        Raises:
            ExperimentNotFoundError: no such experiment (or its folder has no record yet).
            CorruptRecordError: the file is not a record lineage wrote.
        """
        path = layout.experiment_json(self.experiment_path(set_number, number))
        try:
            record = _fs.read_json(path)
        except FileNotFoundError:
            raise ExperimentNotFoundError(
                f"no experiment {number} in set {set_number} of {self.path}"
            ) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptRecordError(path, f"not valid JSON ({exc})") from None
        if not isinstance(record, dict):
            raise CorruptRecordError(path, "not a JSON object")
        missing = [k for k in REQUIRED_KEYS if k not in record]
        if missing:
            raise CorruptRecordError(path, f"missing keys {', '.join(missing)}")
        wrong = [
            key
            for key, kind in (("set", dict), ("name", str), ("status", str), ("artifacts", list))
            if not isinstance(record[key], kind)
        ] + [key for key in ("number",) if type(record[key]) is not int]
        if wrong:
            raise CorruptRecordError(path, f"keys of the wrong type: {', '.join(wrong)}")
        if record["number"] != number or record["set"].get("number") != set_number:
            raise CorruptRecordError(path, "its set or number does not match its folder")
        tags_path = layout.extra_tags(path.parent)
        if record["status"] != "running" and tags_path.exists():
            try:
                record["tags"] = _fs.read_json(tags_path)
            except ValueError as exc:
                raise CorruptRecordError(tags_path, f"not valid JSON ({exc})") from None
        return record

    def iter_records(
        self, set_number: int, problems: list[CorruptRecordError] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every readable record of a set, ascending; corrupt ones go to ``problems``."""
        for n in self.experiment_numbers(set_number):
            try:
                yield self.read_record(set_number, n)
            except ExperimentNotFoundError:
                continue  # a number claimed a moment ago, its record not written yet
            except CorruptRecordError as exc:
                if problems is not None:
                    problems.append(exc)

    def find_experiment(self, set_number: int, ref: int | str) -> dict[str, Any]:
        """An experiment of a set by number, name (the newest of that name) or ``latest``.

        Raises:
            SetNotFoundError: the set does not exist (listing the sets that do).
            ExperimentNotFoundError: nothing matches; the message lists what the set holds.
        """
        if set_number not in self.set_numbers():
            self.find_set(set_number)  # raises, listing the sets that exist
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            try:
                return self.read_record(set_number, int(ref))
            except ExperimentNotFoundError:
                records = list(self.iter_records(set_number))
        else:
            records = list(self.iter_records(set_number))
            if ref == "latest" and records:
                return records[-1]
            for record in reversed(records):
                if record["name"] == ref:
                    return record
        raise ExperimentNotFoundError(
            f"no experiment {ref!r} in set {set_number} of {self.path}; "
            f"experiments: {_listing(records)}. Address one by number, name or 'latest'"
        )

    def effective_status(self, record: dict[str, Any]) -> str:
        """``crashed`` for a record still ``running`` whose process is gone, else its status.

        On the same host the running process holds a kernel lock that dies with it; for a
        run on another host, a heartbeat older than STALE_HEARTBEAT means crashed.
        """
        status = str(record.get("status"))
        if status != "running":
            return status
        path = self.experiment_path(record["set"]["number"], record["number"])
        if record.get("process", {}).get("host") == provenance.static_info()["host"]:
            if _fs.is_locked(path):
                return "running"
        else:
            try:
                age = time.time() - path.stat().st_mtime
            except FileNotFoundError:
                age = None
            if age is not None and age < max(STALE_HEARTBEAT, 10 * env.flush_interval()):
                return "running"
        # The record may be older than the lock: the run can have ended (registered or
        # failed, then released its lock) since it was read. Only the file on disk tells.
        try:
            status = str(self.read_record(record["set"]["number"], record["number"])["status"])
        except (ExperimentNotFoundError, CorruptRecordError):
            return "crashed"
        return "crashed" if status == "running" else status

    # -- tags and aliases: small files beside the immutable records --------------------------

    def set_tags(self, record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """Change the tags of a finished experiment (``None`` removes a tag); returns them all.

        The record stays untouched: the current tags live in ``tags.json`` beside it.
        """
        from . import validation

        checked = validation.mapping(
            {k: v for k, v in changes.items() if v is not None}, "tags"
        )
        removed = [k for k, v in changes.items() if v is None]
        set_number, number = record["set"]["number"], record["number"]
        path = self.experiment_path(set_number, number)
        with _fs.locked(layout.lock(self.path)):
            current = self.read_record(set_number, number)
            if current["status"] == "running":
                raise StateError(
                    f"experiment {set_number}/{number} is still running; set exp.tags in the "
                    "training script, or tag it once it has finished"
                )
            tags = {**current.get("tags", {}), **checked}
            for key in removed:
                tags.pop(key, None)
            _fs.atomic_write_json(layout.extra_tags(path), tags)
            current["tags"] = tags
            self._indexed(self.index.upsert, current, layout.experiment_json(path).stat())
        return tags

    def aliases(self) -> dict[str, Any]:
        """``{"current": {alias: holder}, "history": [event, …]}`` from ``aliases.json``."""
        path = layout.aliases(self.path)
        try:
            data = _fs.read_json(path)
        except FileNotFoundError:
            return {"current": {}, "history": []}
        except ValueError as exc:
            raise CorruptRecordError(path, f"not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("current"), dict):
            raise CorruptRecordError(path, "not an aliases file written by lineage")
        data.setdefault("history", [])
        return data

    def alias_target(self, name: str) -> dict[str, Any]:
        """Who holds an alias: ``{"set", "number", "id", "since", "by"}``.

        Raises:
            AliasNotFoundError: listing the aliases that exist.
        """
        current = self.aliases()["current"]
        if name in current:
            return dict(current[name])
        known = ", ".join(sorted(current)) or "none yet"
        raise AliasNotFoundError(
            f"no experiment holds the alias {name!r}; aliases: {known}. "
            "Give one with lineage.alias(set, experiment, name) or `lineage alias SET/EXP NAME`"
        )

    def set_alias(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        """Point ``name`` at a registered experiment, recording who held it before."""
        from . import validation

        validation.alias(name)
        set_number, number = record["set"]["number"], record["number"]
        with _fs.locked(layout.lock(self.path)):
            current_record = self.read_record(set_number, number)
            if current_record["status"] != "registered":
                raise StateError(
                    f"experiment {set_number}/{number} is {current_record['status']}; only "
                    "registered experiments can hold an alias"
                )
            data = self.aliases()
            holder = {
                "set": set_number, "number": number, "id": current_record["id"],
                "since": now(), "by": provenance.static_info().get("user"),
            }
            previous = data["current"].get(name)
            data["current"][name] = holder
            data["history"].append({"alias": name, **holder, "previous": previous})
            _fs.atomic_write_json(layout.aliases(self.path), data)
        return holder

    def remove_alias(self, name: str) -> None:
        with _fs.locked(layout.lock(self.path)):
            data = self.aliases()
            if name not in data["current"]:
                self.alias_target(name)  # raises, listing the aliases
            previous = data["current"].pop(name)
            data["history"].append({
                "alias": name, "set": None, "number": None, "id": None, "since": now(),
                "by": provenance.static_info().get("user"), "previous": previous,
            })
            _fs.atomic_write_json(layout.aliases(self.path), data)
