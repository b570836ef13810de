"""``lineage gc`` and ``lineage du``: reclaim what nothing needs, and say what the registry uses.

gc removes, after showing them (``dry_run`` is the default):

- objects in ``objects/`` that no experiment's manifest references, read from the JSON records
  (the source of truth), never from the index. A record that cannot be read might reference
  anything, so one corrupt record makes gc keep every object; so does a running experiment
  (or a folder without a record, minutes old: a run starting up), whose ``register()`` may be
  about to link an object it found already stored;
- staging files in ``objects/tmp`` older than a minute that no process holds locked (a writer
  holds a kernel lock on its staging file until it is published or the process dies);
- experiments that crashed while running (their process is gone), and experiment folders
  without an ``experiment.json``, older than ``older_than`` seconds since their last write;
- entries of the ``fingerprints/`` cache that point at an object that is gone or removed.

Executing re-plans first and removes only what both plans list, so anything that became
referenced or running while the user read the plan is spared. Fan-out folders
(``objects/ab/``) are never removed: a writer may be publishing into one at that moment.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import stat
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from . import _fs, layout, objects
from .errors import CorruptRecordError, ExperimentNotFoundError, LineageWarning, ValidationError
from .registry import STALE_HEARTBEAT, Registry

DAY = 86400.0
DEFAULT_OLDER_THAN = 7 * DAY
STAGING_GRACE = 60.0  # seconds: a staging file younger than this may be about to be locked
STARTING = STALE_HEARTBEAT  # seconds a folder without a record may be a run starting up

_HEX = re.compile(r"[0-9a-f]{64}")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY}


def parse_age(text: str) -> float:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"2w"`` (or ``"0"``) as seconds.

    Raises:
        ValidationError: anything else, saying what is accepted.
    """
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*", text)
    if m is None or (not m.group(2) and float(m.group(1)) != 0):
        raise ValidationError(
            f"age {text!r} is not a number with a unit: use e.g. 7d, 12h, 30m, 45s, 2w (or 0)"
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def format_age(seconds: float) -> str:
    for unit, size in (("w", 7 * DAY), ("d", DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.0f}s"


class Item(NamedTuple):
    """One thing gc removes."""

    kind: str  # "experiment", "object", "staging" or "fingerprint"
    path: Path
    size: int  # bytes (for an experiment: of the files in its folder, each inode once)
    reason: str
    address: str | None = None  # "SET/EXP" of an experiment

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path), "size": self.size,
                "reason": self.reason, "address": self.address}


@dataclass
class Plan:
    """What gc removes (or, with ``dry_run``, would remove), and what it kept and why."""

    root: Path
    older_than: float
    dry_run: bool = True
    experiments: list[Item] = field(default_factory=list)
    objects: list[Item] = field(default_factory=list)
    staging: list[Item] = field(default_factory=list)
    fingerprints: list[Item] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # what was spared, and why
    removed: list[Item] = field(default_factory=list)  # filled when executed
    errors: list[str] = field(default_factory=list)  # what could not be removed

    @property
    def items(self) -> list[Item]:
        return [*self.experiments, *self.objects, *self.staging, *self.fingerprints]

    @property
    def size(self) -> int:
        return sum(i.size for i in self.items)

    @property
    def executed(self) -> bool:
        return not self.dry_run

    def __len__(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "older_than": self.older_than,
            "dry_run": self.dry_run,
            "items": [i.to_dict() for i in self.items],
            "bytes": self.size,
            "kept": list(self.kept),
            "removed": [i.to_dict() for i in self.removed],
            "errors": list(self.errors),
        }


# -- planning ----------------------------------------------------------------------------------


def _set_folders(root: Path) -> list[tuple[int, Path]]:
    """Every ``experiment_set_N`` folder (with or without set.json), not following links."""
    found = []
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return []
    for entry in entries:
        n = layout.set_number(entry.name)
        if n is not None and entry.is_dir(follow_symlinks=False):
            found.append((n, Path(entry.path)))
    return sorted(found)


def _last_write(path: Path) -> float:
    """When the experiment last showed a sign of life: its record's (or folder's) mtime."""
    times = []
    for p in (layout.experiment_json(path), layout.artifact(path, layout.METRICS), path):
        with contextlib.suppress(OSError):
            times.append(os.lstat(p).st_mtime)
    return max(times) if times else 0.0


def _folder_size(path: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in files + dirs:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(folder, name))
                if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
    return total


def _references(registry: Registry, out: Plan, older_than: float, now: float) -> set[str] | None:
    """Hashes every manifest references; plans removing dead experiments on the way.

    Returns None when some record cannot be read or an experiment is running (the reason
    goes to ``out.kept``): objects must then be kept.
    """
    from .integrity import bad_entry

    refs: set[str] = set()
    unknown: list[str] = []
    running: list[str] = []
    for set_number, _folder in _set_folders(registry.path):
        for number in registry.experiment_numbers(set_number):
            path = registry.experiment_path(set_number, number)
            address = f"{set_number}/{number}"
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    continue  # verify reports it; gc removes only folders lineage made
            except FileNotFoundError:
                continue
            try:
                record = registry.read_record(set_number, number)
            except ExperimentNotFoundError:
                # a run writes its record right after claiming its folder: one without a
                # record for minutes was abandoned (its process died before the first write)
                age = now - _last_write(path)
                if age > older_than and age > STARTING:
                    out.experiments.append(Item(
                        "experiment", path, _folder_size(path),
                        f"no experiment.json, last written {format_age(age)} ago", address,
                    ))
                elif age <= STARTING:
                    running.append(f"{address} (no record yet)")
                else:
                    out.kept.append(
                        f"experiment folder {address} has no experiment.json, last written "
                        f"{format_age(age)} ago, younger than {format_age(older_than)}: kept"
                    )
                continue
            except CorruptRecordError as exc:
                unknown.append(f"{exc.path}: {exc.reason}")
                continue
            status = registry.effective_status(record)
            if record["status"] == "running" and status not in ("running", "crashed"):
                try:  # it finished since it was read: its manifest counts
                    record = registry.read_record(set_number, number)
                except (CorruptRecordError, ExperimentNotFoundError) as exc:
                    unknown.append(f"{layout.experiment_json(path)}: {exc}")
                    continue
            if status == "running":
                running.append(address)
                continue
            if status == "crashed":
                age = now - _last_write(path)
                if age > older_than:
                    out.experiments.append(Item(
                        "experiment", path, _folder_size(path),
                        f"crashed while running, last written {format_age(age)} ago", address,
                    ))
                else:
                    out.kept.append(
                        f"experiment {address} crashed {format_age(age)} ago, younger than "
                        f"{format_age(older_than)}: kept"
                    )
                continue
            for i, entry in enumerate(record["artifacts"]):
                bad = bad_entry(entry)
                if bad:
                    unknown.append(f"{layout.experiment_json(path)}: manifest entry {i}: {bad}")
                else:
                    refs.add(objects.split_ref(entry["hash"])[1])
    if unknown:
        out.kept.append(
            "no object is removed: these records cannot be read, so gc cannot know which "
            "objects they reference (fix or remove them, then run gc again):\n  "
            + "\n  ".join(unknown)
        )
        return None
    if running:
        out.kept.append(
            f"no object is removed while experiments are running ({', '.join(running)}): "
            "register() may be about to link an object that is already stored; run gc again "
            "when they have finished"
        )
        return None
    return refs


def _plan_objects(root: Path, out: Plan, refs: set[str] | None) -> set[str]:
    """Unreferenced objects (when refs are known); returns the digests of every object."""
    store = layout.objects(root)
    present: set[str] = set()
    try:
        fanout = sorted(os.scandir(store), key=lambda e: e.name)
    except FileNotFoundError:
        return present
    for top in fanout:
        if len(top.name) != 2 or not top.is_dir(follow_symlinks=False):
            continue
        for entry in sorted(os.scandir(top.path), key=lambda e: e.name):
            digest = top.name + entry.name
            if not _HEX.fullmatch(digest):
                continue  # not lineage's: verify reports it, gc never touches it
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            present.add(digest)
            if refs is None or digest in refs:
                continue
            links = st.st_nlink - 1
            also = f"; its bytes stay linked in {links} other place(s)" if links else ""
            out.objects.append(Item(
                "object", Path(entry.path), st.st_size,
                f"referenced by no experiment's manifest{also}",
            ))
    return present


def _is_locked(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    return False


def _open_staging(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None


def _plan_staging(root: Path, out: Plan, now: float) -> None:
    staging = layout.staging(root)
    try:
        entries = sorted(os.scandir(staging), key=lambda e: e.name)
    except FileNotFoundError:
        return
    locked = 0
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue  # verify reports odd files; gc removes only what lineage wrote
        age = now - st.st_mtime
        if age < STAGING_GRACE:
            continue
        fd = _open_staging(Path(entry.path))
        if fd is None:
            continue
        try:
            if _is_locked(fd):
                locked += 1
                continue
        finally:
            os.close(fd)
        out.staging.append(Item(
            "staging", Path(entry.path), st.st_size,
            f"abandoned staging file (no process holds it), {format_age(age)} old",
        ))
    if locked:
        out.kept.append(f"{locked} staging file(s) being written right now (locked): kept")


def _plan_fingerprints(root: Path, out: Plan, present: set[str]) -> None:
    """Cache entries pointing at objects that are gone, or that this plan removes."""
    removed = {i.path.parent.name + i.path.name for i in out.objects}
    folder = root / layout.FINGERPRINTS
    for path in [*sorted(folder.glob("*/*.json")), *sorted(folder.glob("sketches/*/*"))]:
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            digest = objects.split_ref(_fs.read_json(path)["hash"])[1]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            digest = ""
        if digest in present and digest not in removed:
            continue
        with contextlib.suppress(OSError):
            out.fingerprints.append(Item(
                "fingerprint", path, path.stat().st_size,
                f"data {'sketch' if path.parent.parent.name == 'sketches' else 'fingerprint'} "
                "cache entry for an object that is gone or removed",
            ))


def plan(registry: Registry, *, older_than: float = DEFAULT_OLDER_THAN) -> Plan:
    """What :func:`gc` would remove now; nothing is changed."""
    if older_than < 0:
        raise ValidationError(f"older_than must be 0 or more seconds, not {older_than!r}")
    now = time.time()
    result = Plan(root=registry.path, older_than=older_than)
    refs = _references(registry, result, older_than, now)
    present = _plan_objects(registry.path, result, refs)
    _plan_staging(registry.path, result, now)
    _plan_fingerprints(registry.path, result, present)
    return result


# -- executing ---------------------------------------------------------------------------------


def _make_writable(func: Any, path: str, exc_info: Any) -> None:
    """rmtree's error hook: give the folder write permission (files are read-only), retry."""
    parent = os.path.dirname(path)
    try:
        mode = os.lstat(parent).st_mode
        os.chmod(parent, stat.S_IMODE(mode) | stat.S_IWUSR | stat.S_IXUSR)
        if not os.path.islink(path) and os.path.isdir(path):
            os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | stat.S_IRWXU)
    except OSError:
        pass
    func(path)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except PermissionError:
        parent = path.parent
        os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IWUSR | stat.S_IXUSR)
        os.unlink(path)


def _remove(item: Item) -> None:
    if item.kind == "experiment":
        shutil.rmtree(item.path, onerror=_make_writable)
        with contextlib.suppress(OSError):
            _fs.fsync_dir(item.path.parent)
    elif item.kind == "staging":
        fd = _open_staging(item.path)
        if fd is None:
            return  # gone already
        try:
            if _is_locked(fd):
                raise BlockingIOError(f"{item.path} is being written right now")
            _unlink(item.path)  # while we hold its lock: no writer can be using it
        finally:
            os.close(fd)
    else:
        _unlink(item.path)


def _unindex(registry: Registry, removed: list[Item]) -> None:
    """Drop removed experiments from the index (a cache: a failure only warns)."""
    import sqlite3

    from .index import row_id

    rids = []
    for item in removed:
        if item.kind == "experiment" and item.address:
            set_number, number = map(int, item.address.split("/"))
            rids.append(row_id(set_number, number))
    if not rids:
        return
    try:
        index = registry.index
        conn = index.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            index.remove(conn, rids)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except (sqlite3.Error, OSError) as exc:
        warnings.warn(
            f"the index at {layout.index(registry.path)} was not updated ({exc}); run "
            "`lineage reindex`", LineageWarning, stacklevel=3,
        )


def execute(registry: Registry, confirmed: Plan) -> Plan:
    """Remove what ``confirmed`` lists and a fresh plan still lists; returns the fresh plan.

    Anything that became referenced, running or locked since ``confirmed`` was made is
    spared. Errors are collected in ``plan.errors``; what was removed is in ``plan.removed``.
    """
    with _fs.locked(layout.objects_lock(registry.path)):  # no registration in between
        return _execute(registry, confirmed)


def _execute(registry: Registry, confirmed: Plan) -> Plan:
    fresh = plan(registry, older_than=confirmed.older_than)
    fresh.dry_run = False
    wanted = {(i.kind, i.path) for i in confirmed.items}
    spared = [i for i in fresh.items if (i.kind, i.path) not in wanted]
    for kind in ("experiments", "objects", "staging", "fingerprints"):
        setattr(fresh, kind, [i for i in getattr(fresh, kind) if (i.kind, i.path) in wanted])
    if spared:
        fresh.kept.append(f"{len(spared)} item(s) not in the plan that was shown: kept")
    for item in fresh.items:
        try:
            _remove(item)
        except OSError as exc:
            fresh.errors.append(f"{item.path}: {exc}")
        else:
            fresh.removed.append(item)
    _unindex(registry, fresh.removed)
    return fresh


def gc(
    registry: Registry, *, older_than: float = DEFAULT_OLDER_THAN, dry_run: bool = True
) -> Plan:
    """Plan (and unless ``dry_run``, carry out) the removal of what nothing needs.

    ``older_than``: seconds since a crashed experiment (or a folder without a record) last
    wrote anything before it is removed; 7 days by default.
    """
    result = plan(registry, older_than=older_than)
    if dry_run:
        return result
    return execute(registry, result)


# -- du ----------------------------------------------------------------------------------------


def du(registry: Registry) -> dict[str, Any]:
    """Bytes used per set and in all: what the manifests list (logical), what they list
    once (unique), what deduplication saved, and what the folder takes on disk.

    Figures come from the JSON records; records that cannot be read are listed under
    ``problems``.
    """
    from .integrity import bad_entry

    root = registry.path
    everything: dict[str, int] = {}
    sets = []
    problems: list[str] = []
    total_experiments = total_files = total_logical = 0
    for set_number, _folder in _set_folders(root):
        corrupt: list[CorruptRecordError] = []
        unique: dict[str, int] = {}
        logical = files = experiments = 0
        for record in registry.iter_records(set_number, corrupt):
            experiments += 1
            for entry in record["artifacts"]:
                if bad_entry(entry):
                    continue
                files += 1
                logical += entry["size"]
                unique[entry["hash"]] = entry["size"]
        everything.update(unique)
        problems += [str(exc) for exc in corrupt]
        try:
            name = registry.read_set(set_number).get("name")
        except (CorruptRecordError, LookupError) as exc:
            name = None
            problems.append(str(exc))
        unique_bytes = sum(unique.values())
        sets.append({
            "set": set_number, "name": name, "experiments": experiments, "files": files,
            "logical_bytes": logical, "unique_bytes": unique_bytes,
            "saved_bytes": logical - unique_bytes,
        })
        total_experiments += experiments
        total_files += files
        total_logical += logical
    referenced = {objects.split_ref(h)[1] for h in everything}
    object_count = object_bytes = unreferenced = 0
    store = layout.objects(root)
    for path in store.glob("??/*"):
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        object_count += 1
        object_bytes += st.st_size
        if path.parent.name + path.name not in referenced:
            unreferenced += st.st_size
    staging = 0
    for path in layout.staging(root).glob("*"):
        with contextlib.suppress(OSError):
            staging += os.lstat(path).st_size
    unique_total = sum(everything.values())
    return {
        "root": str(root),
        "sets": sets,
        "total": {
            "experiments": total_experiments,
            "files": total_files,
            "logical_bytes": total_logical,
            "unique_bytes": unique_total,
            "saved_bytes": total_logical - unique_total,
            "objects": object_count,
            "object_bytes": object_bytes,
            "unreferenced_bytes": unreferenced,
            "staging_bytes": staging,
            "disk_bytes": _disk_usage(root),
        },
        "problems": problems,
    }


def _disk_usage(root: Path) -> int:
    """Blocks the registry folder takes, each inode once (hard links count once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, dirs, files in os.walk(root):
        for name in files + dirs:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(folder, name))
                key = (st.st_dev, st.st_ino)
                if key not in seen:
                    seen.add(key)
                    total += st.st_blocks * 512
    return total
