"""What a source hands the engine: convert tasks (and, later, fetch tasks).

A :class:`ConvertTask` must be picklable: it travels to worker processes and Dask
workers, so its ``convert`` is a top-level function and its fields are plain data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multigate.quality.ingest_hook import assess_output
from multigate.storage.atomic import temp_name_as, temp_name_for
from multigate.storage.provenance import sha256_of


@dataclass(frozen=True)
class ConvertOutput:
    """What a convert function reports about the file it wrote (vendor-specific details go
    in ``vendor`` and ``extra``; the engine merges them into the sidecar)."""

    rows: int
    first_ts: str | None = None
    last_ts: str | None = None
    symbols: Sequence[str] = ()
    vendor: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    warnings: Sequence[str] = ()
    """Problems worth a warning in the run's summary (the data is kept)."""
    notes: Sequence[str] = ()
    """Facts worth a note in the run's summary (the sidecar keeps what they count)."""


ConvertFunction = Callable[[Sequence[Path], Path, Mapping[str, Any]], ConvertOutput]
"""``convert(inputs, tmp, params)``: read ``inputs``, write the output to ``tmp``. Raise
DataError (naming the file) for input that cannot be converted."""

NotesFunction = Callable[[Mapping[str, Any]], list[str]]
"""Rebuilds a current output's summary notes from its sidecar record."""


@dataclass(frozen=True)
class SplitOutputs:
    """What a splitting convert function reports: each output it wrote, by key (in the
    order written), and what it found about its inputs as a whole."""

    outputs: Mapping[str, ConvertOutput]
    warnings: Sequence[str] = ()
    notes: Sequence[str] = ()


SplitFunction = Callable[[Sequence[Path], Callable[[str], Path], Mapping[str, Any]], SplitOutputs]
"""``split(inputs, temp_for, params)``: read ``inputs``, write each output to
``temp_for(key)`` (called once per key). Raise DataError (naming the file) for input that
cannot be converted; every output written so far is then discarded."""

OutputFor = Callable[[str], Path]
"""The final path of a splitting task's output of one key (a top-level function or a
``functools.partial`` of one: it travels to workers)."""


@dataclass(frozen=True)
class ConvertTask:
    """These inputs become this output, with this converter and these parameters."""

    inputs: tuple[Path, ...]
    output: Path
    converter: str
    """The converter's name (``vix-csv``)."""
    converter_version: str
    """Bump it when the same inputs would give different bytes."""
    convert: ConvertFunction | None
    """None for a splitting task (``split``)."""
    params: Mapping[str, Any]
    """Everything besides the inputs that the output depends on (part of its fingerprint)."""
    source: str
    job: str
    mode: str
    query: Mapping[str, Any]
    vendor: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    tools: tuple[str, ...] = ("multigate", "pyarrow")
    """Packages whose versions the sidecar records."""
    notes_when_current: NotesFunction | None = None
    """Of a splitting task: called with its first current output's sidecar record."""
    split: SplitFunction | None = None
    """Set for a task whose inputs give several outputs, one per key, known only once they
    are converted (``convert`` is then unused): ``output`` only names the task."""
    output_for: OutputFor | None = None
    """Of a splitting task: where the output of each key goes."""
    known_outputs: tuple[Path, ...] = ()
    """Of a splitting task: the outputs it made before (current only if all are)."""

    @property
    def label(self) -> str:
        return f"{self.job}: {self.output.name}"

    @property
    def targets(self) -> tuple[Path, ...]:
        """The outputs whose currency decides whether the task runs."""
        return self.known_outputs if self.split is not None else (self.output,)

    def fingerprint_params(self) -> dict[str, Any]:
        return {"converter": f"{self.converter}/{self.converter_version}", **self.params}


@dataclass(frozen=True)
class FetchTask:
    """One raw chunk to download. Fetches always run in the coordinating process, under the
    vendor's pacing and the cost guardrails (described here for the sources that come next)."""

    source: str
    job: str
    target: Path
    """Where the raw file is stored."""
    request: Mapping[str, Any]
    """What to ask the vendor (never a secret)."""
    cost_usd: float | None = None


@dataclass(frozen=True)
class FileStamp:
    """What identifies a file's bytes on one machine without reading them: any write to it
    changes its size or its modification time (a new file: its inode)."""

    device: int
    inode: int
    bytes: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        info = path.stat()
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


@dataclass(frozen=True)
class WrittenFile:
    """One output a worker wrote: its final path, where the bytes are, what it found."""

    final: Path
    temp: Path
    output: ConvertOutput
    sha256: str
    """Of the bytes the worker wrote: the coordinator publishes nothing else."""
    bytes: int
    quality: Mapping[str, Any] = field(default_factory=dict)
    """The quality checks of those bytes (run by the worker: they read the whole file)."""
    stamp: FileStamp | None = None
    """The file as the worker hashed it (taken first): a coordinator on the same machine
    checks it instead of hashing the file again."""
    staged: str | None = None
    """Where the bytes wait in the bucket when the worker shares no filesystem with the
    run (``bucket_staging``); the run brings them to ``temp`` before publishing."""


@dataclass(frozen=True)
class InputRead:
    """An input as the worker read it (the coordinator names it in the sidecar)."""

    sha256: str
    bytes: int


@dataclass(frozen=True)
class WorkerResult:
    """What a worker sends back: the outputs it wrote, and what it found about the inputs."""

    files: tuple[WrittenFile, ...]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    inputs: tuple[InputRead, ...] = ()
    """Each of the task's inputs, in order, hashed by the worker just before converting (the
    coordinator hashes inputs only to decide whether an existing output is current)."""


def worker_temp(output: Path, writer_temp: Path | None = None) -> Path:
    """A hidden name beside ``output`` for a worker to write (swept after a killed run; not
    one that publishing ``output`` would take for a stale temporary of its own). Named for
    the coordinator (this process, or the one that named ``writer_temp``), never for the
    worker: a Dask worker outlives a killed run, and its files must be swept all the same."""
    work = output.with_name(f"{output.name}.work")
    return temp_name_for(work) if writer_temp is None else temp_name_as(work, writer_temp)


def execute_convert(task: ConvertTask, temp: Path) -> WorkerResult:
    """Run in a worker: convert ``task`` into ``temp`` (a hidden name beside the target; a
    splitting task names one beside each output, for the writer named in ``temp``). The
    coordinator moves them into place; a worker never publishes."""
    if task.split is None and task.convert is None:
        raise TypeError(f"{task.label}: a task needs convert or split")
    inputs = tuple(read_input(path) for path in task.inputs)
    if task.split is not None:
        return dataclasses.replace(_execute_split(task, temp), inputs=inputs)
    assert task.convert is not None
    temp.parent.mkdir(parents=True, exist_ok=True)
    try:
        output = task.convert(task.inputs, temp, task.params)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return WorkerResult((_written(task, task.output, temp, output),), inputs=inputs)


def read_input(path: Path) -> InputRead:
    """An input's sha256 and size; a file the machine cannot read fails naming it (an
    OSError, not bad content: no output is taken back for it)."""
    try:
        return InputRead(sha256_of(path), path.stat().st_size)
    except OSError as exc:
        raise OSError(exc.errno, f"{path}: cannot read: {exc.strerror or exc}") from exc


def _execute_split(task: ConvertTask, named: Path) -> WorkerResult:
    """Run a splitting task; each output's temporary name carries ``named``'s writer."""
    assert task.split is not None and task.output_for is not None
    temps: dict[str, tuple[Path, Path]] = {}

    def temp_for(key: str) -> Path:
        final = task.output_for(key)  # type: ignore[misc]
        temp = worker_temp(final, named)
        temp.parent.mkdir(parents=True, exist_ok=True)
        temps[key] = (final, temp)
        return temp

    try:
        found = task.split(task.inputs, temp_for, task.params)
        files = tuple(
            _written(task, temps[key][0], temps[key][1], output)
            for key, output in found.outputs.items()
        )
    except BaseException:
        for _, temp in temps.values():
            temp.unlink(missing_ok=True)
        raise
    return WorkerResult(files, tuple(found.warnings), tuple(found.notes))


def _written(task: ConvertTask, final: Path, temp: Path, output: ConvertOutput) -> WrittenFile:
    """What the coordinator needs to publish ``temp`` as ``final``. The quality checks run
    here, in the worker (the sidecar hook then keeps them), so that they run in parallel."""
    stamp = FileStamp.of(temp)  # before hashing: a write from now on changes it
    sha256 = sha256_of(temp)
    quality = assess_output(
        temp, source=task.source, query=task.query, vendor={**task.vendor, **output.vendor}
    )
    return WrittenFile(final, temp, output, sha256, stamp.bytes, quality, stamp)
