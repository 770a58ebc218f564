"""Pick the jobs a run should do, run each through its source, and collect outcomes.

The dispatcher knows no vendor: it asks the registry for each source's class.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from multigate.config.loader import LoadedConfig
from multigate.config.models import JobConfig, SourceConfig
from multigate.context import RunContext
from multigate.errors import ConfigError, GuardrailRefused, IngestError, JobKeyError
from multigate.sources.base import JobFailedAfterWriting, JobPlan, JobResult, JobStatus, Source
from multigate.sources.registry import source_class
from multigate.storage.delta_tables import (
    RunInfo,
    TableCommitError,
    adopt_untabled,
    commit_job,
    new_run_id,
)
from multigate.storage.layout import ingested_root
from multigate.storage.publish import job_outputs, prune_stale_outputs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SelectedJob:
    source: str
    job: JobConfig
    skip_reason: str | None = None
    location: tuple[str | int, ...] = ()
    """Where the job stands in the config (``sources``, source, ``jobs``, index)."""


@dataclass
class JobOutcome:
    source: str
    job: str
    mode: str
    status: JobStatus
    rows: int = 0
    files_written: int = 0
    files_current: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    plan: JobPlan | None = None


def select_jobs(
    loaded: LoadedConfig, sources: Sequence[str] = (), jobs: Sequence[str] = ()
) -> list[SelectedJob]:
    """Jobs matching the filters, each with the reason it will be skipped (if any)."""
    config = loaded.config
    unknown_sources = [name for name in sources if name not in config.sources]
    if unknown_sources:
        raise ConfigError(
            f"--source {', '.join(unknown_sources)}: not in {loaded.path} "
            f"(configured: {', '.join(config.sources) or 'none'})"
        )
    all_jobs = {job.name for source in config.sources.values() for job in source.jobs}
    unknown_jobs = [name for name in jobs if name not in all_jobs]
    if unknown_jobs:
        raise ConfigError(
            f"--job {', '.join(unknown_jobs)}: not in {loaded.path} "
            f"(configured: {', '.join(sorted(all_jobs)) or 'none'})"
        )
    selected = []
    for source_name, source in config.sources.items():
        if sources and source_name not in sources:
            continue
        for index, job in enumerate(source.jobs):
            if jobs and job.name not in jobs:
                continue
            where = ("sources", source_name, "jobs", index)
            selected.append(SelectedJob(source_name, job, _skip_reason(source, job), where))
    if (sources or jobs) and all(item.skip_reason for item in selected):
        raise ConfigError(_nothing_to_run(loaded, sources, jobs, selected))
    return selected


def _nothing_to_run(
    loaded: LoadedConfig,
    sources: Sequence[str],
    jobs: Sequence[str],
    selected: Sequence[SelectedJob],
) -> str:
    """Why filters that name existing sources and jobs still leave nothing to run."""
    asked = " ".join([*(f"--source {s}" for s in sources), *(f"--job {j}" for j in jobs)])
    if selected:
        skipped = "; ".join(
            f"{item.source}/{item.job.name} ({item.skip_reason})" for item in selected
        )
        return f"{asked}: nothing to run, every selected job is skipped: {skipped}"
    if not jobs:
        return f"{asked}: {', '.join(sources)} has no jobs in {loaded.path}"
    owners = {
        job.name: name
        for name, source in loaded.config.sources.items()
        for job in source.jobs
        if job.name in jobs
    }
    elsewhere = ", ".join(f"{job} is a job of source {owners[job]}" for job in jobs)
    return f"{asked}: no job matches both filters ({elsewhere})"


def _skip_reason(source: SourceConfig, job: JobConfig) -> str | None:
    if not source.enabled:
        return "source disabled"
    if job.mode != source.mode:
        return f"source mode is {source.mode}"
    if not job.enabled:
        return "job disabled"
    return None


def open_sources(
    loaded: LoadedConfig, selected: Sequence[SelectedJob], ctx: RunContext
) -> dict[str, Source]:
    """One source object per source that has a job to run."""
    names = {item.source for item in selected if not item.skip_reason}
    return {name: source_class(name)(loaded.config.sources[name], ctx) for name in sorted(names)}


def preflight(
    selected: Sequence[SelectedJob],
    sources: dict[str, Source],
    loaded: LoadedConfig | None = None,
) -> None:
    """Run every job's cheap checks before any job starts; all problems in one ConfigError.
    A problem with one key names the config file, line and key (given ``loaded``)."""
    problems = []
    for item in selected:
        if item.skip_reason:
            continue
        try:
            sources[item.source].preflight(item.job)
        except JobKeyError as exc:
            if loaded is not None and item.location:
                problems.append(loaded.describe((*item.location, exc.key), str(exc)))
            else:
                problems.append(f"{item.source}/{item.job.name}: {exc.key}: {exc}")
        except ConfigError as exc:
            problems.append(f"{item.source}/{item.job.name}: {exc}")
    if len(problems) > 1:
        raise ConfigError(f"{len(problems)} problems:\n  " + "\n  ".join(problems))
    if problems:
        raise ConfigError(problems[0])


def run_selected(
    selected: Sequence[SelectedJob],
    sources: dict[str, Source],
    *,
    dry_run: bool,
    after_job: Callable[[], None] | None = None,
) -> list[JobOutcome]:
    """Plan (dry run) or run every selected job; one job's failure never stops the others.
    ``after_job`` is called after each job that ran (an object-store data folder uploads
    there). Each job that published outputs commits them to its datasets' Delta tables as it
    ends (all of a run's commits carry its run id)."""
    outcomes = []
    run_id = new_run_id(datetime.now(UTC))
    if not dry_run:
        _adopt_untabled(sources, RunInfo(run_id, {"adopted": True}))
    for item in selected:
        outcome = JobOutcome(item.source, item.job.name, item.job.mode, JobStatus.SKIPPED)
        outcomes.append(outcome)
        if item.skip_reason:
            outcome.notes.append(item.skip_reason)
            log.info("skip %s/%s: %s", item.source, item.job.name, item.skip_reason)
            continue
        source = sources[item.source]
        started = time.monotonic()
        try:
            if dry_run:
                outcome.plan = source.plan(item.job)
                outcome.status = JobStatus.PLANNED
            else:
                log.info("run %s/%s (%s)", item.source, item.job.name, item.job.mode)
                result = source.run(item.job)
                _record(outcome, result)
                _prune(source, item.job, result, outcome)
                if result.outputs:
                    config = item.job.model_dump(mode="json")
                    _commit_tables(source, item.job, result.outputs, RunInfo(run_id, config))
        except GuardrailRefused as exc:
            outcome.status = JobStatus.REFUSED
            outcome.notes.append(str(exc))
            log.error("%s/%s refused: %s", item.source, item.job.name, exc)
        except IngestError as exc:
            written: Sequence[Path] = ()
            if isinstance(exc, JobFailedAfterWriting):
                _record(outcome, exc.done)  # what it wrote before failing
                written = exc.done.outputs
            # what it published, and outputs it took back (their inputs went bad): readers
            # of the catalog see the job's folder as it now is
            on_disk = _outputs_on_disk(source, item.job, written)
            config = item.job.model_dump(mode="json")
            _commit_tables(source, item.job, on_disk, RunInfo(run_id, config))
            outcome.status = JobStatus.FAILED
            outcome.notes.append(str(exc))
            log.error("%s/%s failed: %s", item.source, item.job.name, exc)
        except OSError as exc:  # disk full, permissions: the machine's problem, said in a line
            outcome.status = JobStatus.FAILED
            outcome.notes.append(f"{type(exc).__name__}: {exc}")
            log.error("%s/%s failed: %s", item.source, item.job.name, exc)
            log.debug("traceback", exc_info=True)
        except Exception as exc:  # a bug, not bad input: keep going, but show the traceback
            outcome.status = JobStatus.FAILED
            outcome.notes.append(f"unexpected {type(exc).__name__}: {exc}")
            log.exception("%s/%s failed unexpectedly", item.source, item.job.name)
        outcome.seconds = time.monotonic() - started
        if after_job is not None and not dry_run:
            after_job()
    return outcomes


def _outputs_on_disk(source: Source, job: JobConfig, written: Sequence[Path]) -> list[Path]:
    """A failed job's outputs as readers now see them: what it wrote, and its earlier
    outputs that stay (nothing is pruned after a failure)."""
    folder = ingested_root(source.ctx.data_dir, source.name, job.name)
    kept = job_outputs(folder, source=source.name, job=job.name)
    return sorted(set(written) | set(kept))


def _commit_tables(source: Source, job: JobConfig, outputs: Sequence[Path], run: RunInfo) -> None:
    """Commit a job's outputs to its datasets' Delta tables; a failure here is logged and
    never fails the job (its outputs are in place: the next run commits them)."""
    try:
        commit_job(source.ctx.data_dir, source.name, job.name, outputs, run)
    except (OSError, TableCommitError) as exc:
        log.error("%s/%s: could not commit to its Delta table: %s", source.name, job.name, exc)


def _adopt_untabled(sources: Mapping[str, Source], run: RunInfo) -> None:
    """Give tables to the outputs of jobs that a run before Delta tables wrote (once)."""
    for data_dir in sorted({source.ctx.data_dir for source in sources.values()}):
        try:
            adopt_untabled(data_dir, run)
        except (OSError, TableCommitError) as exc:
            log.error("could not make tables for earlier outputs in %s: %s", data_dir, exc)


def _prune(source: Source, job: JobConfig, result: JobResult, outcome: JobOutcome) -> None:
    """After a successful run, the job folder holds exactly the job's current outputs."""
    if not result.outputs:
        return
    folder = ingested_root(source.ctx.data_dir, source.name, job.name)
    removed = prune_stale_outputs(folder, result.outputs, source=source.name, job=job.name)
    for path in removed:
        log.info("removed stale output %s", path)
    if removed:
        outcome.notes.append(f"removed {len(removed)} stale output(s)")


def _record(outcome: JobOutcome, result: JobResult) -> None:
    status = result.status
    if status is JobStatus.OK and result.files_written == 0 and result.files_current > 0:
        status = JobStatus.UP_TO_DATE
    outcome.status = status
    outcome.rows = result.rows
    outcome.files_written = result.files_written
    outcome.files_current = result.files_current
    outcome.notes.extend(result.warnings)
    if result.message:
        outcome.notes.append(result.message)
