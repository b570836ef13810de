"""The content-addressed store: bytes streamed in, hashed, made durable, published once."""

from __future__ import annotations

import os
import sys

import pytest
from blake3 import blake3

from lineage import _fs, layout, objects


def test_a_staged_object_is_hashed_and_published_under_its_hash(root):
    payload = os.urandom(3 * objects.PARALLEL_BYTES + 123)  # large writes hash on a 2nd core
    with objects.StagedObject(root) as out:
        for start in range(0, len(payload), 1_000_000):
            out.write(payload[start:start + 1_000_000])
        out.write(memoryview(payload)[:objects.PARALLEL_BYTES])
    digest = out.publish()
    expected = payload + payload[:objects.PARALLEL_BYTES]
    assert digest == blake3(expected).hexdigest() and out.size == len(expected)
    stored = layout.object_path(root, digest)
    assert stored.read_bytes() == expected
    assert not os.access(stored, os.W_OK) or os.geteuid() == 0
    assert stored.stat().st_mode & 0o222 == 0
    assert list(layout.staging(root).iterdir()) == []


def test_large_objects_start_their_writeback_while_they_are_written(root, monkeypatch):
    ranges = []

    def record(fd, offset, length):
        ranges.append((offset, length))
        _fs.start_writeback(fd, offset, length)

    monkeypatch.setattr(objects, "start_writeback", record)
    chunk = os.urandom(objects.WRITEBACK_BYTES // 4 + 1)
    with objects.StagedObject(root) as out:
        for _ in range(9):
            out.write(chunk)
    assert ranges == [(0, 4 * len(chunk)), (4 * len(chunk), 4 * len(chunk))]
    assert layout.object_path(root, out.publish()).read_bytes() == chunk * 9


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_writeback_uses_the_kernels_sync_file_range_on_linux(tmp_path):
    assert callable(_fs._load_sync_file_range())
    path = tmp_path / "blob"
    with open(path, "wb") as f:
        f.write(b"x" * 100_000)
        f.flush()
        _fs.start_writeback(f.fileno(), 0, 100_000)
    assert path.read_bytes() == b"x" * 100_000


def test_the_same_bytes_published_twice_are_one_object(root):
    digests = []
    for _ in range(2):
        with objects.StagedObject(root) as out:
            out.write(b"same bytes")
        digests.append(out.publish())
    assert digests[0] == digests[1]
    stored = [p for p in (root / "objects").rglob("*") if p.is_file()]
    assert stored == [layout.object_path(root, digests[0])]
