"""Progress of a working copy's transfers (files fetched or uploaded) on the run's display."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from fsspec.callbacks import Callback, NoOpCallback

from multigate.progress import Progress, ProgressTask


class _FilesDone(Callback):
    """fsspec's callback of one batch transfer (it counts files done) -> a progress line."""

    def __init__(self, line: ProgressTask) -> None:
        super().__init__()
        self._line = line
        self._shown = 0

    def call(self, *args: Any, **kwargs: Any) -> None:
        if self.value > self._shown:
            self._line.advance(self.value - self._shown)
            self._shown = self.value


class TransferLine:
    """One progress line for a pull or a push; ``batch()`` gives each transfer call its
    callback."""

    def __init__(self, line: ProgressTask | None) -> None:
        self._line = line

    def batch(self) -> Any:
        return _FilesDone(self._line) if self._line is not None else NoOpCallback()


@contextlib.contextmanager
def transfer_line(progress: Progress | None, label: str, files: int) -> Iterator[TransferLine]:
    """A line ``label`` counting ``files`` (none without a display or files to move)."""
    if progress is None or files == 0:
        yield TransferLine(None)
        return
    with progress.task(label, total=files) as line:
        yield TransferLine(line)
