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


def stage_object(root: Path, role: str, obj: Any, path: str, serializer: str) -> Pending:
    from .progress import ByteProgress

    with ByteProgress(f"storing {role}", total=_nbytes(obj)) as progress:
        staged = objects.StagedObject(root, progress)
        try:
            info = serializers.dump(obj, staged, serializer, role)  # type: ignore[arg-type]
            staged.close()
        except BaseException:
            staged.discard()
            raise
    return Pending(role, path, staged, info)


def _nbytes(obj: Any) -> int | None:
    """The in-memory size of arrays (or tuples of them), to size a progress bar."""
    if isinstance(obj, (tuple, list)):
        sizes = [_nbytes(o) for o in obj]
        return sum(s for s in sizes if s) or None
    nbytes = getattr(obj, "nbytes", None)
    return nbytes if isinstance(nbytes, int) else None


def stage_file(root: Path, role: str, source: Path, path: str) -> Pending:
    from .progress import ByteProgress

    with ByteProgress(f"storing {source.name}", total=source.stat().st_size) as progress:
        staged = objects.StagedObject(root, progress)
        try:
            with open(source, "rb") as f:
                while chunk := f.read(objects.CHUNK):
                    staged.write(chunk)
            staged.close()
        except OSError as exc:
            staged.discard()
            raise ArtifactError(
                f"{role} file {str(source)!r} could not be read: {exc}"
            ) from exc
    return Pending(role, path, staged, {"source": str(source)})


def stage_bytes(root: Path, role: str, data: bytes, path: str, **info: Any) -> Pending:
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


def reuse(root: Path, role: str, path: str, fingerprint: str) -> Pending | None:
    """A Pending for data stored before under the same fingerprint, or None.

    The fingerprint map is a cache: when it is missing, unreadable, or points at an
    object that is gone, the data is simply serialized again.
    """
    from . import _fs

    try:
        entry = _fs.read_json(layout.fingerprint_path(root, fingerprint))
        digest = objects.split_ref(entry["hash"])[1]
        size = layout.object_path(root, digest).stat().st_size
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if size != entry.get("size"):
        return None
    info = {k: entry[k] for k in ("serializer", "type") if k in entry}
    return Pending(role, path, StoredObject(digest, size), {**info, "reused": True})  # type: ignore[arg-type]


def remember(root: Path, fingerprint: str, entry: dict[str, Any]) -> None:
    """Record which object holds the data with ``fingerprint`` (best effort: a cache)."""
    from . import _fs

    path = layout.fingerprint_path(root, fingerprint)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fields = ("hash", "size", "serializer", "type")
        _fs.atomic_write_json(path, {k: entry[k] for k in fields if k in entry}, durable=False)


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
