"""How convert tasks run: in this process, in a local process pool, or on Dask.

Every executor takes a list of ``(task, temp)`` calls and yields ``(index, result or
error)`` as each finishes; the coordinator publishes. A pool's workers start lazily (a run
whose outputs are all current starts none; only the forkserver they would fork from is
started early, by :meth:`Executor.prepare`) and live until :meth:`Executor.close`.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from pathlib import Path
from typing import Protocol

from multigate.engine.tasks import ConvertTask, WorkerResult, execute_convert

Call = tuple[ConvertTask, Path]
Finished = tuple[int, WorkerResult | BaseException]


class Executor(Protocol):
    workers: int
    """How many tasks run at once."""
    same_machine: bool
    """Whether tasks write through this machine's own filesystem (this process or its
    children): a file's stamp (inode, size, modification time) then shows any change to the
    bytes a worker hashed, so the coordinator does not hash them again."""

    def prepare(self, modules: Sequence[str]) -> None:
        """Start what running tasks needs, without waiting for it (called as a run opens
        its sources, and once a job has tasks to run); ``modules``: where the tasks'
        convert functions live."""

    def run(self, calls: Sequence[Call]) -> Iterator[Finished]: ...
    def close(self) -> None: ...


def default_workers() -> int:
    return os.cpu_count() or 1


class SerialExecutor:
    """One task after another in this process (``--workers 1``: the behaviour before the
    engine)."""

    workers = 1
    same_machine = True

    def prepare(self, modules: Sequence[str]) -> None:
        return None

    def run(self, calls: Sequence[Call]) -> Iterator[Finished]:
        for index, (task, temp) in enumerate(calls):
            try:
                yield index, execute_convert(task, temp)
            except Exception as exc:
                yield index, exc

    def close(self) -> None:
        return None


def _exit_with_parent() -> None:
    """In a pool worker: end this process once the coordinator that started it is gone (a
    killed coordinator must not leave workers behind; the forkserver and the resource
    tracker then end too). Its temporary file is swept by the next run."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the coordinator's end of the sentinel pipe closes
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-coordinator", daemon=True).start()


_PRELOAD = ("pyarrow", "pyarrow.parquet", "multigate.engine.tasks")


class ProcessExecutor:
    """A pool of ``workers`` processes forked from a 'forkserver' (safe beside threads;
    children inherit no lock or file descriptor of the coordinator, and the server has
    pyarrow, the engine and the convert functions' modules imported already, so a pool
    starts quickly). One task runs here directly."""

    same_machine = True

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._modules: list[str] = list(_PRELOAD)

    def prepare(self, modules: Sequence[str]) -> None:
        """Start the forkserver now, without waiting: it imports its modules (most of a
        second) on another core while this process goes on. The first start in a process
        picks the modules; any other a task needs is imported by each worker."""
        if self.workers >= 2:
            self._modules = list(dict.fromkeys([*_PRELOAD, *modules]))
            forkserver.set_forkserver_preload(self._modules)
            forkserver.ensure_running()

    def run(self, calls: Sequence[Call]) -> Iterator[Finished]:
        if len(calls) < 2 or self.workers < 2:
            yield from SerialExecutor().run(calls)
            return
        pool = self._start()
        futures: dict[Future[WorkerResult], int] = {
            pool.submit(execute_convert, task, temp): index
            for index, (task, temp) in enumerate(calls)
        }
        broken = False
        try:
            for future in as_completed(futures):
                error = future.exception()
                broken = broken or isinstance(error, BrokenProcessPool)
                yield futures[future], error if error is not None else future.result()
        finally:
            for future in futures:
                future.cancel()
            if broken:  # a worker died: the next job starts a fresh pool
                self.close()

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self.prepare(self._modules)
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_exit_with_parent
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
