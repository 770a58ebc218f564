"""Run a job's convert tasks: check what is current, convert the rest through the run's
executor, and publish (atomically, with the sidecar built here and nowhere else).

Workers only write hidden temporary files; this process moves them into place, so
publishing (and the dispatcher's pruning afterwards) never races with a worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from pathlib import Path

from multigate.context import RunContext
from multigate.engine.executors import Call, SerialExecutor
from multigate.engine.tasks import (
    ConvertTask,
    FileStamp,
    InputRead,
    WorkerResult,
    WrittenFile,
    read_input,
    worker_temp,
)
from multigate.errors import DataError, IngestError
from multigate.progress import ProgressTask
from multigate.sources.base import JobFailedAfterWriting, JobPlan, JobResult, JobStatus
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    digest_name,
    fingerprint,
    package_versions,
    read_sidecar,
)
from multigate.storage.publish import output_is_current, publish_file, retract_output
from multigate.storage.publish_together import PendingFile, publish_together

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Checked:
    task: ConvertTask
    current: bool


def _check(task: ConvertTask, ctx: RunContext) -> _Checked:
    """Whether ``task``'s outputs are current. Its inputs are hashed here only when every
    output is there with its sidecar: otherwise the task runs whatever they hold, and the
    worker hashes them (in parallel, as it reads them anyway) for the sidecar."""
    targets = task.targets
    if (
        ctx.force
        or not targets
        or not all(_has_sidecar(path) for path in targets)
        or not _split_is_whole(task, ctx)
    ):
        return _Checked(task, current=False)
    digests = [_digest_input(path, ctx) for path in task.inputs]
    expected = fingerprint(task.fingerprint_params(), digests)
    current = all(output_is_current(path, expected, force=ctx.force) for path in targets)
    return _Checked(task, current)


def _has_sidecar(path: Path) -> bool:
    return path.is_file() and read_sidecar(path) is not None


def _split_is_whole(task: ConvertTask, ctx: RunContext) -> bool:
    """A task that splits into several outputs is current only when every output its last
    conversion made is still there: each sidecar lists them all (``extra.split_outputs``),
    so one lost output (a run stopped between publishes, a deletion) is made again."""
    if task.split is None:
        return True
    found = {_data_name(path, ctx) for path in task.targets}
    for path in task.targets:
        listed = ((read_sidecar(path) or {}).get("extra") or {}).get("split_outputs")
        if not isinstance(listed, list) or set(map(str, listed)) != found:
            return False
    return True


def _data_name(path: Path, ctx: RunContext) -> str:
    """``path`` relative to the data folder, as sidecars name files."""
    try:
        return path.resolve().relative_to(ctx.data_dir.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def plan_convert_tasks(tasks: Sequence[ConvertTask], ctx: RunContext, plan: JobPlan) -> None:
    """Add each task's output to ``plan.current`` or ``plan.writes``."""
    for task in tasks:
        checked = _check(task, ctx)
        listed = [str(path) for path in task.targets] or [str(task.output)]
        (plan.current if checked.current else plan.writes).extend(listed)


def run_convert_tasks(
    tasks: Sequence[ConvertTask],
    ctx: RunContext,
    *,
    all_or_nothing: bool = False,
    retract_failed: bool = False,
    describe_failures: FailureMessage | None = None,
) -> JobResult:
    """Convert every task whose output is not current; publish each output as its task
    finishes, or (``all_or_nothing``) all of them only once every task succeeded.

    A failed task's earlier output is removed when ``retract_failed`` (so no
    complete-looking file outlives inputs it can no longer be made from). Failures raise
    one DataError naming every problem, after the other tasks have finished (without
    ``all_or_nothing``, a JobFailedAfterWriting carrying what the others wrote; its message
    is ``describe_failures(messages, tasks)`` when given).
    """
    result = JobResult(JobStatus.OK)
    executor = ctx.executor or SerialExecutor()
    checked: list[_Checked] = []
    to_run = 0
    for task in tasks:
        checked.append(_check(task, ctx))
        to_run += not checked[-1].current
        if to_run == 2 and not checked[-1].current:  # work for a pool: start it now,
            executor.prepare(_convert_modules(tasks))  # while the others are checked
    for item in checked:
        if item.current:
            log.debug("up to date: %s", item.task.output)
            _absorb_current(result, item)
    stale = [item for item in checked if not item.current]
    if not stale:
        result.outputs = [path for item in checked for path in item.task.targets]
        return result
    calls: list[Call] = [(item.task, worker_temp(item.task.output)) for item in stale]
    done: dict[int, WorkerResult] = {}
    failures: list[tuple[int, BaseException]] = []
    try:
        with _Display(ctx, stale, executor.workers) as display:
            for index, outcome in executor.run(calls):
                display.finished(index)
                if isinstance(outcome, BaseException):
                    failures.append((index, outcome))
                    continue
                done[index] = outcome
                if not all_or_nothing:
                    _publish_one(stale[index], outcome, ctx)
        if failures and all_or_nothing:
            _fail(stale, failures, retract_failed)
        if all_or_nothing:
            _publish_all([(stale[index], done[index]) for index in sorted(done)], ctx)
    finally:
        temps = [temp for _, temp in calls]
        temps += [file.temp for finished in done.values() for file in finished.files]
        for temp in temps:  # whatever was not published
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    for index in sorted(done):
        _absorb_written(result, stale[index], done[index])
    written = {id(stale[index]): done[index] for index in done}
    result.outputs = [  # in task order: what is current, and what was written now
        path
        for item in checked
        for path in (
            item.task.targets
            if item.current
            else [file.final for file in written[id(item)].files]
            if id(item) in written
            else []
        )
    ]
    if failures:
        try:
            _fail(stale, failures, retract_failed, describe_failures, len(tasks))
        except DataError as exc:
            raise JobFailedAfterWriting(str(exc), result) from exc
    return result


def _convert_modules(tasks: Sequence[ConvertTask]) -> list[str]:
    """Where the tasks' convert functions live (a pool's workers import them)."""
    functions = [task.split or task.convert for task in tasks]
    return sorted({function.__module__ for function in functions if function is not None})


def _digest_input(path: Path, ctx: RunContext, read: InputRead | None = None) -> FileDigest:
    """An input's digest as its sidecar records it: from what a worker read of it, or (no
    ``read``) by reading it here as a worker would (:func:`read_input`)."""
    read = read or read_input(path)
    return FileDigest(digest_name(path, ctx.data_dir), read.sha256, read.bytes)


FailureMessage = Callable[[Sequence[str], int], str]
"""``describe_failures(messages, tasks)``: the one message of a job whose tasks failed."""


def _fail(
    stale: Sequence[_Checked],
    failures: list[tuple[int, BaseException]],
    retract: bool,
    describe: FailureMessage | None = None,
    tasks: int = 0,
) -> None:
    failures.sort(key=lambda pair: pair[0])
    died = [stale[index].task.output.name for index, error in failures if _worker_died(error)]
    if died:
        raise IngestError(
            f"a worker process died while converting {', '.join(died)} (out of memory? "
            "try fewer --workers); nothing of this job was published from it"
        )
    for _, error in failures:
        if not isinstance(error, IngestError | OSError):
            raise error  # a bug: the dispatcher shows its traceback
    if retract:  # only bad content takes an output back, never a read error of this machine
        for index, error in failures:
            if not isinstance(error, DataError):
                continue
            task = stale[index].task
            for path in task.targets:
                if retract_output(path, source=task.source, job=task.job):
                    log.warning("%s: removed %s: its inputs no longer convert", task.job, path)
    messages = [_message(error) for _, error in failures]
    if describe is not None:
        raise DataError(describe(messages, tasks))
    if len(messages) == 1:
        raise DataError(messages[0])
    raise DataError(f"{len(messages)} problems: " + "; ".join(messages))


def _worker_died(error: BaseException) -> bool:
    """A worker process ended under a task (killed, out of memory), not a task's error."""
    return isinstance(error, BrokenExecutor) or type(error).__name__ == "KilledWorker"


def _message(error: BaseException) -> str:
    return str(error) if isinstance(error, IngestError) else f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class _Made:
    """What every output of one finished task records."""

    task: ConvertTask
    inputs: list[FileDigest]
    """As the worker read them."""
    fingerprint: str
    siblings: list[str]
    """Every output the task wrote (recorded by a splitting task, so that losing one makes
    the task stale)."""


def _made(task: ConvertTask, done: WorkerResult, ctx: RunContext) -> _Made:
    inputs = [
        _digest_input(path, ctx, read) for path, read in zip(task.inputs, done.inputs, strict=True)
    ]
    expected = fingerprint(task.fingerprint_params(), inputs)
    return _Made(task, inputs, expected, [_data_name(file.final, ctx) for file in done.files])


def _provenance(made: _Made, done: WrittenFile, digest: FileDigest) -> Provenance:
    """The one place an engine output's sidecar is built."""
    task, output = made.task, done.output
    split = {"split_outputs": sorted(made.siblings)} if task.split is not None else {}
    return Provenance(
        kind="ingested",
        source=task.source,
        job=task.job,
        mode=task.mode,
        query=task.query,
        vendor={**task.vendor, **output.vendor},
        file=digest,
        fingerprint=made.fingerprint,
        inputs=made.inputs,
        rows=output.rows,
        first_ts=output.first_ts,
        last_ts=output.last_ts,
        symbols=list(output.symbols),
        tools=package_versions(task.tools),
        extra={
            "converter": f"{task.converter}/{task.converter_version}",
            **task.extra,
            **output.extra,
            **split,
        },
        quality=done.quality,  # the sidecar's quality hook keeps what the worker found
    )


def _pending(made: _Made, done: WrittenFile, ctx: RunContext) -> PendingFile:
    """Publishes exactly what the worker wrote: a file that changed on its way (a shared
    filesystem's stale cache, another writer) is refused, and the output stays as it was.

    Written on this machine (a local pool, this process), the file is not hashed again:
    its stamp (inode, size, modification time) must be the one the worker took before
    hashing it (only a same-size rewrite within one tick of the filesystem's clock, a few
    ms, would pass: none but a deliberate writer touches a worker's hidden file). From
    other machines (Dask) it is hashed again, and must match."""

    def move(tmp: Path) -> None:
        size = done.temp.stat().st_size
        if size != done.bytes:
            raise IngestError(_changed(done, f"{size} bytes, the worker wrote {done.bytes}"))
        os.replace(done.temp, tmp)

    def measure(tmp: Path) -> FileDigest:
        if FileStamp.of(tmp) != done.stamp:
            raise IngestError(_changed(done, "modified after the worker hashed it"))
        return FileDigest(digest_name(done.final, ctx.data_dir), done.sha256, done.bytes)

    def describe(digest: FileDigest) -> Provenance:
        if digest.sha256 != done.sha256:
            raise IngestError(_changed(done, "its sha256 differs from the worker's"))
        return _provenance(made, done, digest)

    trusted = done.stamp is not None and (ctx.executor is None or ctx.executor.same_machine)
    return PendingFile(done.final, move, describe, measure if trusted else None)


def _changed(done: WrittenFile, how: str) -> str:
    return f"{done.final}: the converted file changed before it was published ({how})"


def _publish_one(item: _Checked, done: WorkerResult, ctx: RunContext) -> None:
    """Publish the outputs of one task, each with its sidecar (several: together)."""
    made = _made(item.task, done, ctx)
    if len(done.files) > 1:
        pending = [_pending(made, file, ctx) for file in done.files]
        publish_together(pending, data_dir=ctx.data_dir, now=ctx.now())
    for file in done.files:
        if len(done.files) == 1:
            one = _pending(made, file, ctx)
            publish_file(
                one.path,
                one.write,
                one.describe,
                data_dir=ctx.data_dir,
                now=ctx.now(),
                measure=one.measure,
            )
        log.debug("wrote %s", file.final)


def _publish_all(items: Sequence[tuple[_Checked, WorkerResult]], ctx: RunContext) -> None:
    pending: list[PendingFile] = []
    for item, done in items:
        made = _made(item.task, done, ctx)
        pending.extend(_pending(made, file, ctx) for file in done.files)
    publish_together(pending, data_dir=ctx.data_dir, now=ctx.now())
    for file in pending:
        log.debug("wrote %s", file.path)


def _absorb_current(result: JobResult, item: _Checked) -> None:
    records = [read_sidecar(path) or {} for path in item.task.targets]
    for record in records:
        rows = record.get("rows")
        result.rows += rows if isinstance(rows, int) else 0
        result.files_current += 1
    notes = item.task.notes_when_current
    if notes is not None:  # a splitting task's notes are of its inputs: read from one record
        for record in records[:1] if item.task.split is not None else records:
            result.warnings.extend(notes(record))


def _absorb_written(result: JobResult, item: _Checked, done: WorkerResult) -> None:
    _report(result, item, done.warnings, done.notes)
    for file in done.files:
        result.rows += file.output.rows
        result.files_written += 1
        _report(result, item, file.output.warnings, file.output.notes)


def _report(
    result: JobResult, item: _Checked, warnings: Sequence[str], notes: Sequence[str]
) -> None:
    for text in warnings:
        log.warning("%s: %s", item.task.job, text)
    for text in notes:
        log.info("%s: %s", item.task.job, text)
    result.warnings.extend([*warnings, *notes])


class _Display:
    """A progress line for the job, and one per task running on a worker."""

    def __init__(self, ctx: RunContext, stale: Sequence[_Checked], workers: int) -> None:
        self._ctx = ctx
        self._labels = [item.task.label for item in stale]
        self._workers = max(1, workers)
        self._overall: ProgressTask | None = None
        self._running: dict[int, ProgressTask] = {}
        self._finished: set[int] = set()
        self._next = 0

    def __enter__(self) -> _Display:
        job = self._labels[0].split(":", 1)[0] if self._labels else "convert"
        self._overall = self._ctx.progress.task(f"{job}: convert", total=len(self._labels))
        self._overall.__enter__()
        self._fill()
        return self

    def _fill(self) -> None:
        while len(self._running) < self._workers and self._next < len(self._labels):
            if self._next not in self._finished:
                line = self._ctx.progress.task(f"  {self._labels[self._next]}", total=None)
                line.__enter__()
                self._running[self._next] = line
            self._next += 1

    def finished(self, index: int) -> None:
        self._finished.add(index)
        line = self._running.pop(index, None)
        if line is not None:
            line.__exit__(None, None, None)
        if self._overall is not None:
            self._overall.advance()
        self._fill()

    def __exit__(self, *exc: object) -> None:
        for line in self._running.values():
            line.__exit__(None, None, None)
        self._running.clear()
        if self._overall is not None:
            self._overall.__exit__(None, None, None)
