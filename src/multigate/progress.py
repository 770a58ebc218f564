"""Progress on long work: a rich bar on a terminal, nothing otherwise."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import TaskID


class ProgressTask(Protocol):
    def advance(self, amount: float = 1) -> None: ...
    def __enter__(self) -> ProgressTask: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: float | None = None) -> ProgressTask: ...


class _NullTask:
    def advance(self, amount: float = 1) -> None:
        return None

    def __enter__(self) -> _NullTask:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class NullProgress:
    """Shows nothing (not a terminal, or ``-q``)."""

    def task(self, description: str, total: float | None = None) -> ProgressTask:
        return _NullTask()


class _RichTask:
    def __init__(self, owner: RichProgress, description: str, total: float | None) -> None:
        self._owner = owner
        self._description = description
        self._total = total
        self._id: TaskID | None = None

    def __enter__(self) -> _RichTask:
        bar = self._owner.bar
        if not self._owner.started:
            bar.start()
            self._owner.started = True
        self._id = bar.add_task(self._description, total=self._total)
        return self

    def advance(self, amount: float = 1) -> None:
        if self._id is not None:
            self._owner.bar.advance(self._id, amount)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._id is not None:
            self._owner.bar.remove_task(self._id)
            self._id = None
        if not self._owner.bar.tasks:
            self._owner.bar.stop()
            self._owner.started = False


class RichProgress:
    """Transient progress bars on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as _Bar

        self.bar = _Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.started = False

    def task(self, description: str, total: float | None = None) -> ProgressTask:
        return _RichTask(self, description, total)
