"""Environment variables lineage reads, with their defaults, in one place."""

from __future__ import annotations

import os

#: Registry root (the ``.lineage`` folder, or the folder that holds it).
ROOT = "LINEAGE_ROOT"
#: Seconds between background flushes of buffered step metrics.
FLUSH_INTERVAL = "LINEAGE_FLUSH_INTERVAL"
#: Set to ``0`` to skip capturing git state.
CAPTURE_GIT = "LINEAGE_CAPTURE_GIT"
#: Artifacts at least this many bytes show a progress bar while they are written.
PROGRESS_BYTES = "LINEAGE_PROGRESS_BYTES"

DEFAULT_FLUSH_INTERVAL = 5.0
DEFAULT_PROGRESS_BYTES = 64 * 1024 * 1024


def root() -> str | None:
    """The registry root from ``LINEAGE_ROOT``, or None when unset or empty."""
    return os.environ.get(ROOT) or None


def flush_interval() -> float:
    value = os.environ.get(FLUSH_INTERVAL)
    try:
        return max(0.05, float(value)) if value else DEFAULT_FLUSH_INTERVAL
    except ValueError:
        return DEFAULT_FLUSH_INTERVAL


def capture_git() -> bool:
    return os.environ.get(CAPTURE_GIT, "1").strip().lower() not in ("0", "false", "no", "off")


def progress_bytes() -> int:
    value = os.environ.get(PROGRESS_BYTES)
    try:
        return int(value) if value else DEFAULT_PROGRESS_BYTES
    except ValueError:
        return DEFAULT_PROGRESS_BYTES
