"""Progress for long operations: a bar on a terminal, nothing when output is piped."""

from __future__ import annotations

import sys
from typing import Any

from . import env


class ByteProgress:
    """Counts bytes written; past ``threshold`` on a terminal it shows a rich progress bar.

    Called as ``progress(n)`` from writers; ``close()`` when done. Small artifacts never
    start rich at all, so they pay one addition a call.
    """

    def __init__(self, label: str, total: int | None = None, threshold: int | None = None):
        self.label = label
        self.total = total
        self.done = 0
        self.threshold = env.progress_bytes() if threshold is None else threshold
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, n: int) -> None:
        self.done += n
        if self._bar is None:
            if self.done < self.threshold or not sys.stderr.isatty():
                return
            self._start()
        self._bar.update(self._task, completed=self.done)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=self.total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> ByteProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
