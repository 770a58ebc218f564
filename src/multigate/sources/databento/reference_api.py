"""Reference API jobs: one request per job range through ``databento.Reference``, stored
as the zstd JSON lines it returned (never requested again), then converted like an offline
reference file. Requests carry no quote: ``require_confirm`` asks first, and the ledger
records each request and what it received.

::

    raw/databento/reference/schema=<SCHEMA>/job=<JOB>/<START>_<END>_<QUERY>.jsonl.zst
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from multigate.config.models import range_end, range_start
from multigate.context import RunContext
from multigate.engine import plan_convert_tasks, run_convert_tasks
from multigate.errors import DataError
from multigate.guardrails import confirm_unpriced
from multigate.sources.base import JobPlan, JobResult, JobStatus
from multigate.sources.databento.api import DatabentoApi
from multigate.sources.databento.config import DatabentoReferenceJob
from multigate.sources.databento.paths import ledger_path
from multigate.sources.databento.reference import read_lines
from multigate.sources.databento.reference_tasks import reference_tasks
from multigate.storage.atomic import write_bytes_atomic
from multigate.storage.layout import ingested_root, raw_root
from multigate.storage.ledger import append_ledger

ENDPOINTS = {"adjustment-factors": "adjustment_factors", "corporate-actions": "corporate_actions"}


def reference_form(job: DatabentoReferenceJob) -> dict[str, Any]:
    """The request's form fields, as the databento client sends them for ``get_range``."""
    form: dict[str, Any] = {
        "start": range_start(job.start).isoformat(),
        "end": range_end(job.end).isoformat(),
        "symbols": ",".join(job.symbol_list),
        "stype_in": job.stype_in,
        "countries": ",".join(job.countries) if job.countries else None,
        "compression": "zstd",
    }
    if job.reference_schema == "corporate-actions":
        form["index"] = "ex_date"
    return form


def raw_reference_path(data_dir: Path, job: DatabentoReferenceJob) -> Path:
    """Where the job's answer is kept: named by its range and a digest of its query."""
    form = reference_form(job)
    digest = hashlib.sha256(json.dumps(form, sort_keys=True).encode()).hexdigest()[:12]
    start, end = range_start(job.start), range_end(job.end)
    name = f"{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}_{digest}.jsonl.zst"
    folder = raw_root(data_dir, "databento") / "reference" / f"schema={job.reference_schema}"
    return folder / f"job={job.name}" / name


def plan_reference(ctx: RunContext, job: DatabentoReferenceJob) -> JobPlan:
    raw = raw_reference_path(ctx.data_dir, job)
    plan = JobPlan(cost_usd=None if not raw.is_file() else 0.0)
    if raw.is_file():
        plan.notes.append("the answer is stored (not requested again)")
        plan_convert_tasks(_tasks(ctx, job, raw), ctx, plan)
    else:
        plan.downloads = [
            f"{job.reference_schema} {','.join(job.symbol_list)} {job.start}..{job.end}"
        ]
        plan.notes.append("reference data carries no quote: cost unknown")
        plan.writes = [str(ingested_root(ctx.data_dir, "databento", job.name))]
    return plan


def run_reference(
    ctx: RunContext, job: DatabentoReferenceJob, api: Callable[[], DatabentoApi]
) -> JobResult:
    """Request the job's range unless stored, then convert it."""
    raw = raw_reference_path(ctx.data_dir, job)
    result = JobResult(JobStatus.OK)
    if not raw.is_file():
        what = f"{job.reference_schema} of {', '.join(job.symbol_list)} ({job.start} .. {job.end})"
        confirm_unpriced(job.name, job.require_confirm, ctx, what=what)
        form = reference_form(job)
        ledger = ledger_path(ctx.data_dir)
        fields = {"job": job.name, "schema": job.reference_schema, **form}
        append_ledger(ledger, "reference_request", fields, at=ctx.now())
        body = api().reference(ENDPOINTS[job.reference_schema], form)
        write_bytes_atomic(raw, body)
        try:
            read_lines(raw)  # a body that does not decode fails here, by name
        except DataError:
            raw.unlink(missing_ok=True)  # not kept: the next run asks again
            raise
        digest = hashlib.sha256(body).hexdigest()
        append_ledger(
            ledger, "download", {**fields, "bytes": len(body), "sha256": digest}, at=ctx.now()
        )
        result.files_written += 1
    result.absorb(run_convert_tasks(_tasks(ctx, job, raw), ctx))
    return result


def _tasks(ctx: RunContext, job: DatabentoReferenceJob, raw: Path) -> list[Any]:
    stem = raw.name.removesuffix(".jsonl.zst")
    return reference_tasks(ctx.data_dir, job, job.reference_schema, [(raw, stem)])
