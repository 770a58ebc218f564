"""The interface every vendor implements, and what a job reports back.

A source is constructed with its validated config and the run's context, then asked to
``plan`` (dry run: describe, touch nothing, spend nothing) or ``run`` one job at a time.
Vendor SDKs are imported inside the vendor's own package, never here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

from multigate.config.models import JobConfig, SourceConfig
from multigate.context import RunContext
from multigate.errors import DataError


class JobStatus(StrEnum):
    OK = "ok"
    UP_TO_DATE = "up to date"
    SKIPPED = "skipped"
    PLANNED = "planned"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass
class JobPlan:
    """What a job would do: shown by ``--dry-run``."""

    reads: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    """Outputs already up to date: a real run would keep them as they are."""
    cost_usd: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class JobResult:
    """What a job did."""

    status: JobStatus
    rows: int = 0
    files_written: int = 0
    files_current: int = 0
    warnings: list[str] = field(default_factory=list)
    message: str = ""
    outputs: list[Path] = field(default_factory=list)
    """Ingested files this job wrote or found current; others in its folder are stale."""

    def absorb(self, other: JobResult) -> None:
        """Add up the counts of a part of this job (one file, one symbol, one chunk)."""
        self.rows += other.rows
        self.files_written += other.files_written
        self.files_current += other.files_current
        self.warnings.extend(other.warnings)
        self.outputs.extend(other.outputs)


class JobFailedAfterWriting(DataError):
    """A job failed (some inputs could not be converted) after writing the others: ``done``
    is what it wrote, so that the summary reports it alongside the failure."""

    def __init__(self, message: str, done: JobResult) -> None:
        super().__init__(message)
        self.done = done


C = TypeVar("C", bound=SourceConfig)


class Source(ABC, Generic[C]):
    """One vendor. Subclasses set ``name`` and ``config_model`` and implement two methods."""

    name: ClassVar[str]
    config_model: ClassVar[type[SourceConfig]]

    def __init__(self, config: C, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    def preflight(self, job: JobConfig) -> None:
        """Cheap checks run for every selected job before any job starts, dry run or not
        (keys present, inputs that exist, parameters that only make sense at run time).
        Raise ConfigError, or JobKeyError when one key's value is the problem (the CLI then
        names its file and line); touch nothing and spend nothing."""
        return None

    @abstractmethod
    def plan(self, job: JobConfig) -> JobPlan:
        """Describe what ``run(job)`` would read, download and write. Must not write files
        or make billable requests (a free cost quote is allowed)."""

    @abstractmethod
    def run(self, job: JobConfig) -> JobResult:
        """Do the job: download (API mode) and convert. Raise IngestError on failure."""
