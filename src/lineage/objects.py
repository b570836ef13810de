"""Content-addressed storage: every artifact's bytes stored once under their blake3 hash.

Bytes are streamed into a private staging file in ``objects/tmp/`` while they are hashed,
fsynced, then published with ``link()`` (which never replaces an existing object, so two
processes storing the same bytes both succeed with one object). Objects are read-only and
appear in an experiment folder as hard links, or copies where the file system cannot link.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from . import layout
from ._fs import fsync_dir, start_writeback
from .errors import StorageError

ALGORITHM = "blake3"
CHUNK = 1024 * 1024
PARALLEL_BYTES = 4 * 1024 * 1024  # writes this large hash on a second core while writing
WRITEBACK_BYTES = 32 * 1024 * 1024  # start writing to disk after every this many bytes
_pool: Any = None


_threads_started = False  # blake3's own worker threads (Rust's rayon) run in this process
_threads_lost = False  # ... ran in the parent of this forked process: using them would hang


def hasher() -> Any:
    """A blake3 hasher that uses every core for large inputs, except in a process forked
    after blake3 started its worker threads: those threads are not copied by fork(), and a
    hasher waiting for them would never return, so there it hashes on one thread."""
    global _threads_started
    from blake3 import blake3

    if _threads_lost:
        return blake3()
    _threads_started = True
    return blake3(max_threads=blake3.AUTO)


def _hash_pool() -> Any:
    """One worker thread that hashes while the caller's thread writes (both release the GIL)."""
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(1, thread_name_prefix="lineage-hash")
    return _pool


def _after_fork_in_child() -> None:
    """The parent's worker threads do not exist in a forked child; a pool that believes it
    has one would never run what it is given (a register() would hang)."""
    global _pool, _threads_lost
    _pool = None
    _threads_lost = _threads_lost or _threads_started


os.register_at_fork(after_in_child=_after_fork_in_child)


def hash_ref(hexdigest: str) -> str:
    """The hash as recorded in a manifest: ``blake3:<hex>``."""
    return f"{ALGORITHM}:{hexdigest}"


def split_ref(ref: str) -> tuple[str, str]:
    algorithm, _, hexdigest = ref.partition(":")
    return algorithm, hexdigest


class StagedObject:
    """A blob being written: a file-like sink that hashes what passes through it.

    Use it as ``with StagedObject(root) as out: out.write(...)``; on a clean exit the bytes
    are fsynced and ``digest``/``size`` are set; on an error the staging file is removed.
    ``publish()`` then moves it into ``objects/``.
    """

    def __init__(self, root: Path, progress: Callable[[int], None] | None = None) -> None:
        staging = layout.staging(root)
        staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="obj-", dir=staging)
        fcntl.flock(fd, fcntl.LOCK_EX)  # tells gc this staging file is alive; dies with us
        self.path = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._progress = progress
        from blake3 import blake3

        self._hash = blake3()  # one thread: the other core is writing
        self.root = root
        self.size = 0
        self._on_disk = 0  # bytes up to here are (being) written back to disk
        self._writeback: Any = None
        self.digest = ""
        self.published = False

    # The file-like surface joblib, pickle and shutil need.
    def write(self, data: Any) -> int:
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        try:
            if view.nbytes >= PARALLEL_BYTES:
                hashing = _hash_pool().submit(self._hash.update, view)
                try:
                    self._file.write(view)
                finally:
                    hashing.result()
            else:
                self._file.write(view)
                self._hash.update(view)
            self.size += view.nbytes
            if self.size - self._on_disk >= WRITEBACK_BYTES:
                self._start_writeback()
        except OSError as exc:
            raise self._storage_error(exc) from exc
        if self._progress is not None:
            self._progress(view.nbytes)
        return view.nbytes

    def _start_writeback(self) -> None:
        """Have the hashing thread start writing the new bytes to disk (it takes a few ms
        that the writing thread need not wait for); ``close()`` waits for the last one."""
        self._file.flush()
        self._writeback = _hash_pool().submit(
            start_writeback, self._file.fileno(), self._on_disk, self.size - self._on_disk
        )
        self._on_disk = self.size

    def flush(self) -> None:
        self._file.flush()

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def __enter__(self) -> StagedObject:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def _storage_error(self, exc: OSError) -> StorageError:
        return StorageError(
            f"could not write to the registry at {self.root}: {exc.strerror or exc}. "
            "Free some space (lineage gc removes what nothing uses) or point root= elsewhere"
        )

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.flush()
            if self._writeback is not None:
                self._writeback.result()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise self._storage_error(exc) from exc
        finally:
            if not self._file.closed:
                with contextlib.suppress(OSError):
                    self._file.close()
        self.digest = self._hash.hexdigest()

    def discard(self) -> None:
        """Remove the staging file (a no-op once published: the name may be reused)."""
        if self.published:
            return
        if self._writeback is not None:  # it uses our file descriptor: let it finish first
            with contextlib.suppress(Exception):
                self._writeback.result()
        self._file.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def publish(self) -> str:
        """Move the staged bytes to ``objects/ab/cd…`` (or drop them when already there)."""
        self.close()
        target = layout.object_path(self.root, self.digest)
        if target.exists():
            self.discard()
            self.published = True
            return self.digest
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o444)
        try:
            os.link(self.path, target)
        except FileExistsError:
            pass  # another process published the same bytes first
        except OSError:
            os.replace(self.path, target)  # no hard links here: a rename is still atomic
        else:
            fsync_dir(target.parent)
        with contextlib.suppress(OSError):
            self.path.unlink()
        self.published = True
        return self.digest


def store_file(root: Path, source: Path, progress: Any = None) -> tuple[str, int]:
    """Store a file's bytes; returns (hex digest, size)."""
    with StagedObject(root) as out, open(source, "rb") as f:
        while chunk := f.read(CHUNK):
            out.write(chunk)
            if progress is not None:
                progress(len(chunk))
    return out.publish(), out.size


def store_bytes(root: Path, data: bytes) -> tuple[str, int]:
    with StagedObject(root) as out:
        out.write(data)
    return out.publish(), out.size


def link_into(root: Path, digest: str, dest: Path) -> None:
    """Make ``dest`` show the object's bytes: a hard link, or a read-only copy."""
    source = layout.object_path(root, digest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        dest.unlink()
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
        os.chmod(dest, 0o444)
        with open(dest, "rb") as f:
            os.fsync(f.fileno())
    fsync_dir(dest.parent)


def hash_file(path: Path, progress: Any = None) -> str:
    """blake3 hex digest of a regular file, read in chunks.

    Opened without following a symlink and without blocking on a FIFO; anything but a
    regular file raises OSError, so a reader can never be led out of the registry or hang.
    """
    import stat

    h = hasher()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    with open(fd, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return str(h.hexdigest())


def hash_bytes(data: bytes) -> str:
    h = hasher()
    h.update(data)
    return str(h.hexdigest())
