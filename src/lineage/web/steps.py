"""Step metrics (``metrics/metrics.jsonl``) read for charts, cached by file identity.

A registered experiment's file never changes, a running one's only grows: the cache is keyed
on inode, size and modification time, so the live view re-reads a file only when it moved.
The file is opened like any artifact (no symlinks, regular files only).
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path

from .. import layout
from .security import MAX_STEPS_FILE, NotServable, open_artifact

Curves = dict[str, list[tuple[float, float]]]

_CACHE: OrderedDict[str, tuple[tuple[int, int, int], Curves]] = OrderedDict()
_CACHE_SIZE = 256
_LOCK = threading.Lock()


def read_steps(folder: Path) -> Curves:
    """name → [(step, value), …] in logging order; ``{}`` when there is no readable file."""
    try:
        fd, st = open_artifact(folder, layout.METRICS)
    except NotServable:
        return {}
    key = str(folder)
    identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    try:
        with _LOCK:
            cached = _CACHE.get(key)
            if cached is not None and cached[0] == identity:
                _CACHE.move_to_end(key)
                return cached[1]
        if st.st_size > MAX_STEPS_FILE:
            return {}
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_STEPS_FILE)
    finally:
        os.close(fd)
    curves = parse(data)
    with _LOCK:
        _CACHE[key] = (identity, curves)
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return curves


def parse(data: bytes) -> Curves:
    """Parse JSON lines; a line cut short by a crash (or any bad line) is skipped."""
    text = data.decode("utf-8", errors="replace")
    lines = [line for line in text.split("\n") if line.strip()]
    try:  # one call for the whole file: several times quicker than a call per line
        rows = json.loads("[" + ",".join(lines) + "]")
    except ValueError:
        rows = []
        for line in lines:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    curves: Curves = {}
    for row in rows:
        try:
            name, step, value = row["name"], row["step"], row["value"]
        except (TypeError, KeyError):
            continue
        if (isinstance(name, str) and isinstance(step, (int, float))
                and isinstance(value, (int, float)) and not isinstance(value, bool)
                and value == value and abs(value) != float("inf")):
            curves.setdefault(name, []).append((step, value))
    return curves
