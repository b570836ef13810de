"""File-system primitives: durable atomic writes, directory fsync, advisory locks."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    """Make a rename or create inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_sync_file_range: Any = None


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a range of a file to disk, without waiting for it.

    A large write followed by one fsync first fills memory with dirty pages (the kernel
    then throttles the writer) and then waits for all of them. Starting writeback as the
    bytes arrive overlaps the disk with the writing, so the final fsync finds little left:
    what databases do with ``sync_file_range`` (PostgreSQL's ``*_flush_after``, RocksDB's
    ``bytes_per_sync``). Linux only; elsewhere a no-op, the fsync alone still makes it durable.
    """
    global _sync_file_range
    if _sync_file_range is None:
        _sync_file_range = _load_sync_file_range()
    if _sync_file_range:
        _sync_file_range(fd, offset, length, 2)  # SYNC_FILE_RANGE_WRITE: start, don't wait


def _load_sync_file_range() -> Any:
    import sys

    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError):
        return False
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


def atomic_write(path: Path, data: bytes, *, durable: bool = True, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never half.

    The temporary file has an unpredictable name in the same folder (so the rename is atomic
    and no other user can pre-create it). With ``durable`` the bytes are fsynced before the
    rename and the folder after it, so a power loss cannot leave an empty file behind.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


def dumps(obj: Any) -> bytes:
    """JSON as lineage writes it: UTF-8, no NaN (rejected, never silently changed).

    The first two levels are indented, one key a line, so a person can read and diff the
    file; deeper values stay on one line, which keeps json's fast C encoder in use.
    """
    if not isinstance(obj, dict):
        return (_encode(obj) + "\n").encode()
    lines = []
    for key, value in obj.items():
        if isinstance(value, dict) and value:
            inner = ",\n".join(f"    {_encode(k)}: {_encode(v)}" for k, v in value.items())
            lines.append(f"  {_encode(key)}: {{\n{inner}\n  }}")
        else:
            lines.append(f"  {_encode(key)}: {_encode(value)}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


def atomic_write_json(path: Path, obj: Any, *, durable: bool = True) -> None:
    atomic_write(path, dumps(obj), durable=durable)


def read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


@contextlib.contextmanager
def locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold a kernel advisory lock on ``path`` (created if missing) for the block.

    The kernel drops it when the process dies, so a crash never leaves a stale lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def lock_dir(path: Path) -> int:
    """Hold an exclusive lock on a folder until the returned fd is closed (or the process dies).

    Readers only ever take it for an instant (:func:`is_locked`), so this waits at most that.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_locked(path: Path) -> bool:
    """Whether another process holds the lock on ``path`` (False when it is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
