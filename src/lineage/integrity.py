"""``lineage verify``: prove that what is on disk is what the records say.

For every experiment in scope the record is read (a corrupt or hand-edited ``experiment.json``
is reported by path), and for every experiment with a manifest each entry is checked:

- the file exists and is a regular file (``lstat``: a symlink is never followed, a FIFO or a
  device is reported without being opened, so verify never hangs on one);
- its size is the recorded size (smaller: *truncated*);
- its blake3 hash is the recorded hash (skipped with ``quick``);
- the blob ``objects/ab/cdef…`` named by the hash exists and holds those bytes.

Files in a registered experiment's folder that no manifest lists are *unlisted*; symlinks and
special files anywhere in scope are reported; without a scope, in full mode, every object in
``objects/`` must hash to its own name. Each inode is hashed once: an artifact and the object
it is hard-linked to cost one read, so verifying costs about what hashing the bytes costs.

Nothing here writes to the registry.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from . import layout, objects
from .errors import (
    CorruptRecordError,
    ExperimentNotFoundError,
    IntegrityError,
    SetNotFoundError,
    ValidationError,
)
from .registry import Registry

#: Files an experiment folder may hold besides its manifest.
RECORD_FILES = frozenset({layout.EXPERIMENT_JSON, layout.EXTRA_TAGS, layout.NOTES})

#: Manifest roles whose file is written in place, with no blob in ``objects/``.
IN_PLACE_ROLES = frozenset({"metrics"})

_HEX = re.compile(r"[0-9a-f]{64}")

#: Problem kinds, in the order a person would fix them.
KINDS = (
    "corrupt-record",  # a JSON record that is not what lineage wrote, or a bad manifest entry
    "missing",  # a listed file that is not there
    "not-a-file",  # a listed path that is a folder
    "symlink",  # a symbolic link inside the registry (never followed)
    "special",  # a FIFO, socket or device inside the registry (never opened)
    "truncated",  # smaller than recorded
    "size",  # larger than recorded
    "changed",  # recorded size, other bytes
    "unreadable",  # could not be read (permissions, I/O error)
    "object-missing",  # the blob the manifest names is not in objects/
    "object-changed",  # a blob whose bytes do not hash to its name (or the recorded size)
    "unlisted",  # a file no manifest lists (or a stray name in objects/)
)

Progress = Callable[[int, int], None]


class Problem(NamedTuple):
    """One thing on disk that does not match the records."""

    kind: str  # one of KINDS
    path: Path  # absolute path of the file (or record) concerned
    expected: str | int | None  # the recorded hash ("blake3:…") or size in bytes
    actual: str | int | None  # what is on disk
    message: str  # the path, what is wrong, expected and actual: ready to print

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": str(self.path),
            "expected": self.expected,
            "actual": self.actual,
            "message": self.message,
        }


@dataclass
class Report:
    """What :func:`verify` checked and every problem it found (``ok`` when none).

    It iterates over and counts its problems like a list of them (so an OK report is
    falsy, as an empty list is): test ``report.ok``.
    """

    root: Path
    quick: bool
    scope: str = "registry"  # "registry", "set N" or "experiment N/M"
    problems: list[Problem] = field(default_factory=list)
    experiments: int = 0  # experiment folders looked at
    files: int = 0  # manifest entries checked
    objects: int = 0  # blobs in objects/ checked
    hashed_bytes: int = 0  # bytes read and hashed

    @property
    def ok(self) -> bool:
        return not self.problems

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def __len__(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        mode = "sizes checked" if self.quick else f"{self.hashed_bytes:,} bytes hashed"
        counts = ", ".join(
            f"{n:,} {word}{'' if n == 1 else 's'}"
            for n, word in ((self.experiments, "experiment"), (self.files, "file"),
                            (self.objects, "object"))
        )
        head = f"{self.scope} of {self.root}: {counts}, {mode}"
        if self.ok:
            return f"OK: {head}"
        n = len(self.problems)
        return f"{n:,} problem{'' if n == 1 else 's'}: {head}"

    def raise_for_problems(self) -> None:
        """Raise :class:`IntegrityError` listing the problems, if there are any."""
        if self.problems:
            shown = "\n".join(f"  {p.message}" for p in self.problems[:20])
            more = len(self.problems) - 20
            tail = f"\n  … and {more} more" if more > 0 else ""
            raise IntegrityError(f"{self.summary()}\n{shown}{tail}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "root": str(self.root),
            "scope": self.scope,
            "quick": self.quick,
            "experiments": self.experiments,
            "files": self.files,
            "objects": self.objects,
            "hashed_bytes": self.hashed_bytes,
            "problems": [p.to_dict() for p in self.problems],
        }


# -- the checks --------------------------------------------------------------------------------


class _Entry(NamedTuple):
    """A manifest entry whose file passed the lstat checks; its hash is compared later."""

    path: Path
    key: tuple[int, int]  # (st_dev, st_ino) of the file
    expected_hash: str  # hex digest
    object_key: tuple[int, int] | None  # of its blob, when it must be compared too
    object_path: Path | None


class _Verifier:
    def __init__(self, registry: Registry, quick: bool, progress: Progress | None) -> None:
        self.registry = registry
        self.root = registry.path
        self.quick = quick
        self.progress = progress
        self.report = Report(root=registry.path, quick=quick)
        self.to_hash: dict[tuple[int, int], tuple[Path, int]] = {}  # inode -> (a path, size)
        self.digests: dict[tuple[int, int], str | None] = {}  # inode -> hex (None: unreadable)
        self.entries: list[_Entry] = []
        self.objects_seen: dict[str, tuple[int, int] | None] = {}  # hex -> inode (None: absent)
        self.object_names: list[tuple[Path, str, tuple[int, int]]] = []  # full scan

    # -- reporting ----------------------------------------------------------------------------

    def show(self, path: Path) -> str:
        """A path as messages print it: from the registry folder, e.g. ``.lineage/objects/…``."""
        try:
            return f"{self.root.name}/{path.relative_to(self.root).as_posix()}"
        except ValueError:
            return str(path)

    def problem(
        self, kind: str, path: Path, what: str, expected: Any = None, actual: Any = None
    ) -> None:
        message = f"{self.show(path)}: {what}"
        self.report.problems.append(Problem(kind, path, expected, actual, message))

    def odd_file(self, path: Path, st: os.stat_result) -> bool:
        """Report a symlink or special file (never followed or opened); False for regular ones."""
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            inside = _inside(path.parent / target, self.root)
            where = "inside the registry" if inside else "OUTSIDE the registry"
            self.problem(
                "symlink", path, f"symbolic link to {target} ({where}); lineage never writes "
                "links: replace it with the file", expected="regular file", actual="symlink",
            )
            return True
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
            kind = _kind_name(st.st_mode)
            self.problem(
                "special", path, f"{kind} inside the registry (not opened); remove it",
                expected="regular file", actual=kind,
            )
            return True
        return False

    # -- walking --------------------------------------------------------------------------------

    def walk(self, folder: Path, skip: Callable[[Path], bool] = lambda p: False
             ) -> Iterator[tuple[Path, os.stat_result]]:
        """Every regular file under ``folder`` (not following links); odd files are reported."""
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            self.problem("unreadable", folder, f"folder could not be listed ({exc})")
            return
        for entry in sorted(entries, key=lambda e: e.name):
            path = Path(entry.path)
            if skip(path):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if self.odd_file(path, st):
                continue
            if stat.S_ISDIR(st.st_mode):
                yield from self.walk(path, skip)
            else:
                yield path, st

    def lstat_inside(self, folder: Path, rel: str) -> tuple[Path, os.stat_result | None, str]:
        """lstat ``folder/rel`` component by component: ``(path, stat or None, why)``.

        A symlinked or special folder on the way stops the walk (it is reported by the folder
        walk); ``why`` is empty when the file was reached, else what stopped it.
        """
        path = folder
        parts = rel.split("/")
        for i, part in enumerate(parts):
            path = path / part
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                return path, None, "missing"
            except OSError as exc:
                return path, None, f"could not be looked at ({exc})"
            if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
                return path, st, "parent"
        return path, st, ""

    # -- scope ----------------------------------------------------------------------------------

    def run(self, set_ref: int | str | None, experiment_ref: int | str | None) -> Report:
        registry = self.registry
        if set_ref is None:
            if experiment_ref is not None:
                raise ValidationError("an experiment needs its set: verify(set, experiment)")
            for set_number in self.check_registry_files():
                self.check_set(set_number)
            self.scan_objects()
        else:
            set_number = _set_number(registry, set_ref)
            if experiment_ref is None:
                self.report.scope = f"set {set_number}"
                self.check_set(set_number)
            else:
                number = _experiment_number(registry, set_number, experiment_ref)
                self.report.scope = f"experiment {set_number}/{number}"
                self.check_experiment(set_number, number)
        self.hash_all()
        self.compare()
        order = {kind: i for i, kind in enumerate(KINDS)}
        self.report.problems.sort(key=lambda p: (str(p.path), order.get(p.kind, len(order))))
        return self.report

    def check_registry_files(self) -> list[int]:
        """Top-level files (odd ones reported), aliases.json, stray folders; the set folders.

        Returns the numbers of the set folders (with or without a ``set.json``), ascending.
        """
        root = self.root
        try:
            self.registry.aliases()
        except CorruptRecordError as exc:
            self.problem("corrupt-record", exc.path, exc.reason)

        def is_ours(p: Path) -> bool:  # checked by check_set and scan_objects
            return p.parent == root and (
                p.name == layout.OBJECTS or layout.set_number(p.name) is not None
            )

        for _ in self.walk(root, skip=is_ours):
            pass  # lineage.json, index.sqlite…: only odd files matter
        sets = []
        for name in sorted(os.listdir(root)):
            number = layout.set_number(name)
            if number is None and name != layout.OBJECTS:
                continue
            path = root / name
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if number is not None:
                    sets.append(number)
            elif not self.odd_file(path, st):
                self.problem("unlisted", path, "a file where lineage keeps a folder")
        return sorted(sets)

    def check_set(self, set_number: int) -> None:
        folder = layout.set_dir(self.root, set_number)
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(st.st_mode):
            return  # reported by check_registry_files
        try:
            self.registry.read_set(set_number)
        except CorruptRecordError as exc:
            self.problem("corrupt-record", exc.path, exc.reason)
        except SetNotFoundError:
            pass
        numbers = set(self.registry.experiment_numbers(set_number))

        def is_experiment(path: Path) -> bool:
            return path.parent == folder and layout.experiment_number(path.name) in numbers

        for _ in self.walk(folder, skip=is_experiment):
            pass  # set.json and friends: only odd files matter
        for number in sorted(numbers):
            self.check_experiment(set_number, number)

    def check_experiment(self, set_number: int, number: int) -> None:
        folder = self.registry.experiment_path(set_number, number)
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            return
        if self.odd_file(folder, st):
            return  # a link is reported and never followed
        if not stat.S_ISDIR(st.st_mode):
            self.problem("unlisted", folder, "a file where lineage keeps an experiment folder")
            return
        self.report.experiments += 1
        record: dict[str, Any] | None
        try:
            record = self.registry.read_record(set_number, number)
        except ExperimentNotFoundError:
            record = None  # claimed a moment ago, or abandoned before its first record
        except CorruptRecordError as exc:
            self.problem(
                "corrupt-record", exc.path, f"{exc.reason}; its files cannot be checked "
                "against it",
            )
            record = None
        listed: set[str] = set()
        if record is not None and record["status"] != "running":
            listed = self.check_manifest(folder, record["artifacts"])
        registered = record is not None and record["status"] == "registered"
        for path, _st in self.walk(folder):
            rel = path.relative_to(folder).as_posix()
            if not registered or rel in listed or rel in RECORD_FILES:
                continue
            self.problem(
                "unlisted", path, "in a registered experiment's folder but in no manifest "
                "(added by hand?)",
            )

    def check_manifest(self, folder: Path, artifacts: list[Any]) -> set[str]:
        record_path = layout.experiment_json(folder)
        listed: set[str] = set()
        for i, entry in enumerate(artifacts):
            bad = bad_entry(entry)
            if not bad and entry["path"] in listed:
                bad = f"lists {entry['path']!r} twice"
            if bad:
                self.problem("corrupt-record", record_path, f"manifest entry {i}: {bad}")
                if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                    listed.add(entry["path"])
                continue
            rel, size, ref = entry["path"], entry["size"], entry["hash"]
            listed.add(rel)
            self.report.files += 1
            hexdigest = objects.split_ref(ref)[1]
            path, st, why = self.lstat_inside(folder, rel)
            if st is None and why != "missing":
                self.problem("unreadable", path, why)
                continue
            if st is None:
                path = layout.artifact(folder, rel)
                self.problem(
                    "missing", path, f"missing (manifest lists {size:,} bytes, {ref})",
                    expected=ref, actual=None,
                )
                self.check_object(hexdigest, size, entry)
                continue
            if why == "parent" or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                if why == "parent" and stat.S_ISREG(st.st_mode):
                    self.problem("not-a-file", path, f"a file where {rel} needs a folder")
                # symlinks and special files (the artifact or a folder on its way) are
                # reported once, by the walk of the experiment folder: never followed
                self.check_object(hexdigest, size, entry)
                continue
            if stat.S_ISDIR(st.st_mode):
                self.problem("not-a-file", path, f"a folder where the manifest lists a "
                             f"{size:,}-byte file", expected=ref, actual="folder")
                self.check_object(hexdigest, size, entry)
                continue
            if st.st_size != size:
                kind = "truncated" if st.st_size < size else "size"
                word = "truncated" if kind == "truncated" else "larger than recorded"
                self.problem(
                    kind, path, f"{word}: {st.st_size:,} bytes, manifest says {size:,} "
                    f"bytes ({ref})", expected=size, actual=st.st_size,
                )
                self.check_object(hexdigest, size, entry)
                continue
            key = (st.st_dev, st.st_ino)
            object_key = self.check_object(hexdigest, size, entry)
            if not self.quick:
                self.to_hash.setdefault(key, (path, st.st_size))
                obj = layout.object_path(self.root, hexdigest)
                self.entries.append(_Entry(path, key, hexdigest, object_key, obj))
        return listed

    def check_object(
        self, hexdigest: str, size: int, entry: dict[str, Any]
    ) -> tuple[int, int] | None:
        """The blob behind a manifest entry: present, regular, right size; queued for hashing.

        Returns the blob's inode when its bytes must be compared after hashing (None when it
        is absent, already reported, or in quick mode). When the artifact is a hard link to
        it, that is the artifact's own inode, hashed once for both.
        """
        if entry.get("role") in IN_PLACE_ROLES:
            return None
        if hexdigest in self.objects_seen:
            return None if self.quick else self.objects_seen[hexdigest]
        obj = layout.object_path(self.root, hexdigest)
        try:
            st = os.lstat(obj)
        except (FileNotFoundError, NotADirectoryError):
            self.objects_seen[hexdigest] = None
            self.problem(
                "object-missing", obj, f"the object for {entry['path']} is missing from the "
                f"store (deleted by hand?); expected {size:,} bytes, blake3:{hexdigest}",
                expected=objects.hash_ref(hexdigest), actual=None,
            )
            return None
        self.objects_seen[hexdigest] = None
        self.report.objects += 1
        if self.odd_file(obj, st):
            return None
        if not stat.S_ISREG(st.st_mode):
            self.problem("not-a-file", obj, "a folder where an object belongs")
            return None
        if st.st_size != size:
            self.problem(
                "object-changed", obj, f"object is {st.st_size:,} bytes, manifest of "
                f"{entry['path']} says {size:,} bytes", expected=size, actual=st.st_size,
            )
            return None
        key = (st.st_dev, st.st_ino)
        self.objects_seen[hexdigest] = key
        if self.quick:
            return None
        self.to_hash.setdefault(key, (obj, st.st_size))
        return key

    def scan_objects(self) -> None:
        """Every name in objects/: odd files, stray names; every blob queued (full mode)."""
        store = layout.objects(self.root)
        staging = layout.staging(self.root)
        try:
            if not stat.S_ISDIR(os.lstat(store).st_mode):
                return  # reported by check_registry_files
        except FileNotFoundError:
            return
        for path, st in self.walk(store):
            if path.parent == staging:
                continue  # private files of writers at work (gc removes abandoned ones)
            rel = path.relative_to(store).as_posix()
            hexdigest = rel.replace("/", "")
            if not (len(rel) == 65 and rel[2] == "/" and _HEX.fullmatch(hexdigest)):
                self.problem("unlisted", path, "not an object name (objects/ab/cdef…, blake3 "
                             "hex); lineage did not write it")
                continue
            if hexdigest not in self.objects_seen:
                self.objects_seen[hexdigest] = None
                self.report.objects += 1
            if self.quick:
                continue
            key = (st.st_dev, st.st_ino)
            self.to_hash.setdefault(key, (path, st.st_size))
            self.object_names.append((path, hexdigest, key))

    # -- hashing and comparing ------------------------------------------------------------------

    def hash_all(self) -> None:
        """Hash every queued inode once, reporting ``progress(done, total)`` in bytes."""
        total = sum(size for _, size in self.to_hash.values())
        report = self.progress
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if report is not None:
                report(min(done, total), total)

        if report is not None:
            report(0, total)
        finished = 0
        for key, (path, size) in self.to_hash.items():
            try:
                self.digests[key] = _hash_regular(path, advance)
            except OSError as exc:
                self.digests[key] = None
                self.problem("unreadable", path, f"could not be read ({exc})")
            finished += size
            done = finished  # a file that changed size while read does not skew the bar
            self.report.hashed_bytes += size
        if report is not None and total:
            report(total, total)

    def compare(self) -> None:
        reported: set[tuple[int, int]] = set()
        for e in self.entries:
            actual = self.digests.get(e.key)
            if actual is not None and actual != e.expected_hash:
                self.problem(
                    "changed", e.path, f"contents changed: blake3:{actual}, manifest says "
                    f"blake3:{e.expected_hash}", expected=objects.hash_ref(e.expected_hash),
                    actual=objects.hash_ref(actual),
                )
            if e.object_key is not None and e.object_path is not None:
                got = self.digests.get(e.object_key)
                if got is not None and got != e.expected_hash and e.object_key not in reported:
                    reported.add(e.object_key)
                    self.object_changed(e.object_path, e.expected_hash, got)
        for path, hexdigest, key in self.object_names:
            got = self.digests.get(key)
            if got is not None and got != hexdigest and key not in reported:
                reported.add(key)
                self.object_changed(path, hexdigest, got)

    def object_changed(self, path: Path, expected: str, actual: str) -> None:
        self.problem(
            "object-changed", path, f"object does not hash to its name: blake3:{actual}, "
            f"expected blake3:{expected} (every experiment linking it is affected)",
            expected=objects.hash_ref(expected), actual=objects.hash_ref(actual),
        )


def _hash_regular(path: Path, progress: Callable[[int], None]) -> str:
    """blake3 of a file that was a regular file at lstat time; refuses anything else."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"{path} is no longer a regular file")
    return objects.hash_file(path, progress)


def bad_entry(entry: Any) -> str:
    """Why a manifest entry cannot be checked ('' when it can)."""
    if not isinstance(entry, dict):
        return "not an object"
    rel = entry.get("path")
    if not isinstance(rel, str) or not rel:
        return "no path"
    parts = rel.split("/")
    if rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        return f"path {rel!r} is not a plain relative path inside the experiment"
    size = entry.get("size")
    if type(size) is not int or size < 0:
        return f"{rel}: size {size!r} is not a byte count"
    ref = entry.get("hash")
    algorithm, hexdigest = objects.split_ref(ref) if isinstance(ref, str) else ("", "")
    if algorithm != objects.ALGORITHM or not _HEX.fullmatch(hexdigest):
        return f"{rel}: hash {ref!r} is not 'blake3:' and 64 hex digits"
    return ""


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.normpath(path)).relative_to(root)
    except ValueError:
        return False
    return True


def _kind_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "special file"


def _set_number(registry: Registry, ref: int | str) -> int:
    """A set's number, without reading its set.json when a number is given (it may be corrupt)."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        if int(ref) in registry.set_numbers() or layout.set_dir(registry.path, int(ref)).is_dir():
            return int(ref)
    return int(registry.find_set(ref)["number"])


def _experiment_number(registry: Registry, set_number: int, ref: int | str) -> int:
    """An experiment's number, without reading its record when a number is given."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        if int(ref) in registry.experiment_numbers(set_number):
            return int(ref)
    return int(registry.find_experiment(set_number, ref)["number"])


def verify(
    registry: Registry,
    set: int | str | None = None,  # noqa: A002 - the name users pass
    experiment: int | str | None = None,
    *,
    quick: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Check the registry (or one set, or one experiment) against its records.

    ``quick`` checks presence and sizes only (no file is read). ``progress(done, total)`` is
    called with bytes as files are hashed. The report lists every problem; nothing is
    raised for them (``report.raise_for_problems()`` does).

    Raises:
        SetNotFoundError, ExperimentNotFoundError: the scope does not exist.
    """
    return _Verifier(registry, quick, progress).run(set, experiment)
