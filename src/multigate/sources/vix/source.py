"""The ``vix`` source: CBOE daily index history over HTTP, or local CBOE/FRED CSVs."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import requests

from multigate.config.models import JobConfig
from multigate.engine import ConvertTask, plan_convert_tasks, run_convert_tasks
from multigate.errors import DataError
from multigate.http import get_bytes
from multigate.sources.base import JobPlan, JobResult, JobStatus, Source
from multigate.sources.local_inputs import find_path_inputs, require_path_inputs
from multigate.sources.vix.config import (
    CBOE_DAILY_PRICES_URL,
    VixApiJob,
    VixOfflineJob,
    VixSourceConfig,
)
from multigate.sources.vix.convert import (
    CONVERTER,
    CONVERTER_VERSION,
    convert_symbol,
    notes_from_sidecar,
    within,
)
from multigate.sources.vix.csv_format import (
    parse_index_csv,
    symbol_from_filename,
    symbol_from_header,
)
from multigate.sources.vix.inputs import JobInputs, read_job_inputs
from multigate.storage.layout import ingested_root, path_component, raw_root
from multigate.storage.provenance import FileDigest, Provenance, package_versions
from multigate.storage.publish import publish_bytes_if_changed

log = logging.getLogger(__name__)

_TOOLS = ("multigate", "pyarrow", "requests")


class VixSource(Source[VixSourceConfig]):
    name = "vix"
    config_model = VixSourceConfig

    # ----- paths (pure) -------------------------------------------------------------
    def _url(self, symbol: str) -> str:
        base = (self.config.base_url or CBOE_DAILY_PRICES_URL).rstrip("/")
        return f"{base}/{path_component(symbol)}_History.csv"

    def _raw_path(self, symbol: str) -> Path:
        return (
            raw_root(self.ctx.data_dir, self.name)
            / "cboe"
            / f"{path_component(symbol)}_History.csv"
        )

    def _output_path(self, job: JobConfig, symbol: str) -> Path:
        return (
            ingested_root(self.ctx.data_dir, self.name, job.name)
            / f"{path_component(symbol)}.parquet"
        )

    def _offline_inputs(self, job: VixOfflineJob) -> list[Path]:
        return find_path_inputs(self.ctx.resolve(job.path))

    def _offline_files(self, job: VixOfflineJob) -> list[tuple[Path, str | None]]:
        """Each input file with the symbol the job or the file's name gives (FRED files
        name theirs inside)."""
        return [
            (path, job.symbol or symbol_from_filename(path.name))
            for path in self._offline_inputs(job)
        ]

    def _read(self, job: JobConfig, files: list[tuple[Path, str | None]]) -> JobInputs:
        return read_job_inputs(files, lambda table: _within(table, job))

    # ----- Source interface --------------------------------------------------------------
    def preflight(self, job: JobConfig) -> None:
        if isinstance(job, VixOfflineJob):
            found = self._offline_inputs(job)
            require_path_inputs(job.path, self.ctx.resolve(job.path), found, "CSV file")

    def plan(self, job: JobConfig) -> JobPlan:
        if isinstance(job, VixApiJob):
            return JobPlan(
                downloads=[self._url(symbol) for symbol in job.symbols],
                writes=[
                    str(path)
                    for symbol in job.symbols
                    for path in (self._raw_path(symbol), self._output_path(job, symbol))
                ],
                cost_usd=0.0,
            )
        assert isinstance(job, VixOfflineJob)
        files = self._offline_files(job)
        plan = JobPlan(reads=[str(path) for path, _ in files], cost_usd=0.0)
        inputs = self._read(job, files)
        inputs.check()  # what the run would refuse, the dry run refuses too
        groups = {data.symbol: list(data.files) for data in inputs.symbols.values()}
        plan_convert_tasks(self._tasks(job, groups), self.ctx, plan)
        for symbol, paths in groups.items():
            if len(paths) > 1:
                plan.notes.append(f"{symbol}: merges {len(paths)} files by date")
        return plan

    def run(self, job: JobConfig) -> JobResult:
        if isinstance(job, VixApiJob):
            return self._run_api(job)
        assert isinstance(job, VixOfflineJob)
        return self._run_offline(job)

    # ----- API mode ----------------------------------------------------------------------
    def _run_api(self, job: VixApiJob) -> JobResult:
        result = JobResult(JobStatus.OK)
        with (
            requests.Session() as session,
            self.ctx.progress.task(f"{job.name}: download", total=len(job.symbols)) as task,
        ):
            for symbol in job.symbols:
                result.absorb(self._download(job, symbol, session))
                task.advance()
        groups = {symbol: [self._raw_path(symbol)] for symbol in job.symbols}
        result.absorb(run_convert_tasks(self._tasks(job, groups), self.ctx, all_or_nothing=True))
        return result

    def _download(self, job: VixApiJob, symbol: str, session: requests.Session) -> JobResult:
        url = self._url(symbol)
        body = get_bytes(session, url, self.config.http, sleep=self.ctx.sleep)
        parsed = parse_index_csv(body, url, symbol)  # refuse a bad body before storing it
        path = self._raw_path(symbol)
        table = parsed.table

        def describe(digest: FileDigest) -> Provenance:
            return Provenance(
                kind="raw",
                source=self.name,
                job=job.name,
                mode=job.mode,
                query={"url": url, "symbol": symbol},
                vendor={"vendor": "CBOE", "dataset": "daily_prices", "format": parsed.flavor},
                file=digest,
                fingerprint=digest.sha256,
                rows=table.num_rows,
                first_ts=str(table["date"][0]),
                last_ts=str(table["date"][-1]),
                symbols=[symbol],
                tools=package_versions(_TOOLS),
            )

        _, wrote = publish_bytes_if_changed(
            path, body, describe, data_dir=self.ctx.data_dir, now=self.ctx.now()
        )
        log.debug("%s %s (%d rows)", "saved" if wrote else "unchanged", path, table.num_rows)
        return JobResult(JobStatus.OK, files_written=int(wrote), files_current=int(not wrote))

    # ----- offline mode ------------------------------------------------------------------
    def _run_offline(self, job: VixOfflineJob) -> JobResult:
        files = self._offline_files(job)  # never empty: preflight checked
        return run_convert_tasks(
            self._tasks(job, _group_by_symbol(files)),
            self.ctx,
            all_or_nothing=True,
            retract_failed=True,
        )

    # ----- conversion: which files make which output (the engine does the rest) ---------
    def _tasks(self, job: JobConfig, groups: dict[str, list[Path]]) -> list[ConvertTask]:
        return [
            ConvertTask(
                inputs=tuple(paths),
                output=self._output_path(job, symbol),
                converter=CONVERTER,
                converter_version=CONVERTER_VERSION,
                convert=convert_symbol,
                params={
                    "symbol": symbol,
                    "start": getattr(job, "start", None),
                    "end": getattr(job, "end", None),
                },
                source=self.name,
                job=job.name,
                mode=job.mode,
                query=job.model_dump(mode="json"),
                tools=_TOOLS,
                notes_when_current=notes_from_sidecar,
            )
            for symbol, paths in sorted(groups.items())
        ]


def _group_by_symbol(files: list[tuple[Path, str | None]]) -> dict[str, list[Path]]:
    """The job's files by symbol (the job's, the file name's, or a FRED header's). A file
    that names none fails the job before anything converts."""
    groups: dict[str, list[Path]] = {}
    problems = []
    for path, symbol in files:
        symbol = symbol or symbol_from_header(path)
        if symbol is None:
            try:  # its parse error says best what is wrong with it
                parse_index_csv(path.read_bytes(), str(path), None)
            except (DataError, OSError) as exc:
                problems.append(str(exc))
                continue
            problems.append(f"{path}: cannot tell the symbol")
            continue
        groups.setdefault(symbol, []).append(path)
    if problems:
        raise DataError(problems[0] if len(problems) == 1 else "; ".join(problems))
    return groups


def _within(table: pa.Table, job: JobConfig) -> pa.Table:
    """Rows inside the job's optional [start, end] date window."""
    return within(table, getattr(job, "start", None), getattr(job, "end", None))
