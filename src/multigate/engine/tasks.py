"""What a source hands the engine: convert tasks (and, later, fetch tasks).

A :class:`ConvertTask` must be picklable: it travels to worker processes and Dask
workers, so its ``convert`` is a top-level function and its fields are plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
class ConvertTask:
    """These inputs become this output, with this converter and these parameters."""

    inputs: tuple[Path, ...]
    output: Path
    converter: str
    """The converter's name (``vix-csv``)."""
    converter_version: str
    """Bump it when the same inputs would give different bytes."""
    convert: ConvertFunction
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

    @property
    def label(self) -> str:
        return f"{self.job}: {self.output.name}"

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
class WorkerResult:
    """What a worker sends back: where it wrote the output, and what it found."""

    temp: Path
    output: ConvertOutput
    sha256: str
    """Of the bytes the worker wrote: the coordinator publishes nothing else."""
    bytes: int


def execute_convert(task: ConvertTask, temp: Path) -> WorkerResult:
    """Run in a worker: convert ``task`` into ``temp`` (a hidden name beside the target).
    The coordinator moves it into place; a worker never publishes."""
    temp.parent.mkdir(parents=True, exist_ok=True)
    try:
        output = task.convert(task.inputs, temp, task.params)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return WorkerResult(temp, output, sha256_of(temp), temp.stat().st_size)
