"""Turning what ``register()`` was given into staged blobs, then into the experiment's files.

Registration is two-phase so that bad input or a failing serializer leaves nothing behind:
``stage_*`` writes every artifact to private staging files (nothing visible changes);
``commit`` publishes them to ``objects/`` and links them into the experiment folder, all
before the manifest that makes the experiment registered is written.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, NamedTuple

from . import layout, objects, serializers
from .errors import ArtifactError


class Pending(NamedTuple):
    """One artifact staged for an experiment, not yet visible in it."""

    role: str
    path: str  # manifest path inside the experiment folder, "/"-separated
    staged: objects.StagedObject
    info: dict[str, Any]


def check_readable_file(source: str | os.PathLike[str], role: str) -> Path:
    """The path as a readable regular file, or ArtifactError saying what is wrong."""
    path = Path(source).expanduser()
    if not path.exists():
        raise ArtifactError(
            f"{role} path {str(source)!r} does not exist (looked in {Path.cwd()}); "
            "pass the path of an existing file"
        )
    if not path.is_file():
        raise ArtifactError(f"{role} path {str(source)!r} is not a regular file")
    if not os.access(path, os.R_OK):
        raise ArtifactError(f"{role} path {str(source)!r} cannot be read (permissions)")
    return path


def exploration_path(source: Path) -> str:
    """Manifest path of an exploration file: the seed's name for notebooks, else its own name."""
    if source.suffix == ".ipynb":
        return layout.ARTIFACTS["exploration"]
    return f"{layout.ARTIFACTS['exploration'].split('/')[0]}/{source.name}"


def stage_object(
    root: Path, role: str, obj: Any, path: str, serializer: serializers.Serializer
) -> Pending:
    """Serialize ``obj`` straight into a staging file (no second copy in memory)."""
    from .progress import ByteProgress

    with ByteProgress(f"storing {role}", total=nbytes(obj)) as progress:
        staged = objects.StagedObject(root, progress)
        try:
            info = serializers.dump(obj, staged, serializer, role)  # type: ignore[arg-type]
            staged.close()
        except BaseException:
            staged.discard()
            raise
    return Pending(role, path, staged, info)


def nbytes(obj: Any) -> int | None:
    """The in-memory size of arrays (or tuples of them): for a progress bar, and to pick the
    way large data is stored."""
    if isinstance(obj, (tuple, list, dict)):
        sizes = [nbytes(o) for o in (obj.values() if isinstance(obj, dict) else obj)]
        return sum(s for s in sizes if s) or None
    size = getattr(obj, "nbytes", None)
    return size if isinstance(size, int) else None


def stage_file(
    root: Path, role: str, source: Path, path: str, *, follow_symlinks: bool = True,
    **info: Any,
) -> Pending:
    """Copy a file's bytes into a staging file; ``follow_symlinks=False`` refuses a link."""
    from .progress import ByteProgress

    flags = os.O_RDONLY | (0 if follow_symlinks else getattr(os, "O_NOFOLLOW", 0))
    with ByteProgress(f"storing {source.name}", total=source.stat().st_size) as progress:
        staged = objects.StagedObject(root, progress)
        try:
            with open(os.open(source, flags), "rb") as f:
                while chunk := f.read(objects.CHUNK):
                    staged.write(chunk)  # a failed write raises StorageError, not OSError
            staged.close()
        except OSError as exc:
            staged.discard()
            raise ArtifactError(
                f"{role} file {str(source)!r} could not be read: {exc}"
            ) from exc
        except BaseException:
            staged.discard()
            raise
    return Pending(role, path, staged, {"source": str(source), **info})


def folder_files(source: Path, label: str) -> list[tuple[Path, str]]:
    """Every regular file under ``source`` with its ``/``-separated path inside it, sorted.

    Raises:
        ArtifactError: the folder holds a symbolic link (never followed: it could point out
        of the folder), a special file, an unreadable file or folder, or no file at all.
    """
    found: list[tuple[Path, str]] = []
    pending = [(source, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise ArtifactError(
                f"{label} folder {str(folder)!r} cannot be listed: {exc.strerror or exc}"
            ) from exc
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                raise ArtifactError(
                    f"{label} folder {str(source)!r} holds a file whose name is not valid "
                    f"UTF-8 ({rel!r}); rename it"
                ) from None
            if entry.is_symlink():
                raise ArtifactError(
                    f"{label} folder {str(source)!r} holds a symbolic link, {rel!r}; links "
                    "are never followed (they can point out of the folder): replace it by "
                    "the file it points to, or remove it"
                )
            if entry.is_dir(follow_symlinks=False):
                pending.append((Path(entry.path), f"{rel}/"))
            elif entry.is_file(follow_symlinks=False):
                if not os.access(entry.path, os.R_OK):
                    raise ArtifactError(
                        f"{label} file {rel!r} in {str(source)!r} cannot be read (permissions)"
                    )
                found.append((Path(entry.path), rel))
            else:
                raise ArtifactError(
                    f"{label} folder {str(source)!r} holds {rel!r}, which is neither a "
                    "regular file nor a folder (a pipe, socket or device); remove it"
                )
    if not found:
        raise ArtifactError(
            f"{label} folder {str(source)!r} holds no files; pass a folder with the files "
            "to store, or leave it out"
        )
    return sorted(found, key=lambda item: item[1])


def stage_bytes(root: Path, role: str, data: bytes, path: str, **info: Any) -> Pending:
    """Stage small in-memory bytes; bytes already stored (the same script every run) are
    only linked, saving a staging file, its fsync and its removal."""
    digest = objects.hash_bytes(data)
    if layout.object_path(root, digest).is_file():
        return Pending(role, path, StoredObject(digest, len(data)), dict(info))  # type: ignore[arg-type]
    staged = objects.StagedObject(root)
    try:
        staged.write(data)
        staged.close()
    except BaseException:
        staged.discard()
        raise
    return Pending(role, path, staged, dict(info))


class StoredObject:
    """An object already in ``objects/``, standing in for a staged one: nothing to write."""

    def __init__(self, digest: str, size: int) -> None:
        self.digest = digest
        self.size = size

    def publish(self) -> str:
        return self.digest

    def discard(self) -> None:
        pass


#: The fields of a data manifest entry kept in the fingerprint map, to rebuild it on reuse.
REMEMBERED = ("hash", "size", "serializer", "type", "container")


def reuse(
    root: Path, role: str, path: str, fingerprint: str, serializer: str, type_: str
) -> Pending | None:
    """A Pending for data stored before under the same fingerprint *and serializer*, or None.

    The same data stored as joblib and as npz (``safe=True``) are two objects: each
    registration reuses only the one its own serializer wrote. The fingerprint map is a
    cache: when it is missing, unreadable, or points at an object that is gone, the data is
    simply serialized again.
    """
    from . import _fs

    try:
        entry = _fs.read_json(layout.fingerprint_path(root, fingerprint, serializer))
        digest = objects.split_ref(entry["hash"])[1]
        size = layout.object_path(root, digest).stat().st_size
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if (
        size != entry.get("size")
        or entry.get("serializer", "joblib") != serializer
        or entry.get("type", type_) != type_
    ):
        return None
    info = {k: entry[k] for k in REMEMBERED[2:] if k in entry}
    return Pending(role, path, StoredObject(digest, size), {**info, "reused": True})  # type: ignore[arg-type]


def surely_new(root: Path, sketch: str | None, serializer: str) -> bool:
    """True when no data with this sketch was stored with this serializer, so the data is
    certainly new; False when it may have been (only the fingerprint can tell)."""
    return sketch is not None and not layout.sketch_path(root, sketch, serializer).exists()


def remember(
    root: Path, fingerprint: str, entry: dict[str, Any], sketch: str | None = None
) -> None:
    """Record which object holds the data with ``fingerprint`` and that data with ``sketch``
    was stored (best effort: a cache)."""
    from . import _fs

    serializer = entry.get("serializer", "joblib")
    path = layout.fingerprint_path(root, fingerprint, serializer)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        remembered = {k: entry[k] for k in REMEMBERED if k in entry}
        _fs.atomic_write_json(path, remembered, durable=False)
    if sketch is not None and "hash" in entry:
        marker = layout.sketch_path(root, sketch, serializer)
        with contextlib.suppress(OSError):  # names its object, so gc can drop it with it
            marker.parent.mkdir(parents=True, exist_ok=True)
            _fs.atomic_write_json(marker, {"hash": entry["hash"]}, durable=False)


def discard(pending: list[Pending]) -> None:
    for p in pending:
        p.staged.discard()


def commit(root: Path, exp_path: Path, pending: list[Pending]) -> list[dict[str, Any]]:
    """Publish staged blobs and link them into the experiment; returns manifest entries."""
    entries = []
    for p in pending:
        digest = p.staged.publish()
        objects.link_into(root, digest, layout.artifact(exp_path, p.path))
        entries.append(
            {
                "role": p.role,
                "path": p.path,
                "size": p.staged.size,
                "hash": objects.hash_ref(digest),
                **p.info,
            }
        )
    return entries


def manifest_entry_for_file(role: str, exp_path: Path, path: str) -> dict[str, Any]:
    """Entry for a file written in place (the step-metrics log): fsynced and hashed."""
    full = layout.artifact(exp_path, path)
    with open(full, "rb") as f:
        os.fsync(f.fileno())
    with contextlib.suppress(OSError):
        os.chmod(full, 0o444)
    return {
        "role": role,
        "path": path,
        "size": full.stat().st_size,
        "hash": objects.hash_ref(objects.hash_file(full)),
    }
