"""The ``vix`` source: CBOE daily index history over HTTP, or local CBOE/FRED CSVs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import requests

from multigate.config.models import JobConfig
from multigate.http import get_bytes
from multigate.sources.base import JobPlan, JobResult, JobStatus, Source
from multigate.sources.local_inputs import find_path_inputs, require_path_inputs
from multigate.sources.vix.config import (
    CBOE_DAILY_PRICES_URL,
    VixApiJob,
    VixOfflineJob,
    VixSourceConfig,
)
from multigate.sources.vix.csv_format import parse_index_csv, symbol_from_filename
from multigate.sources.vix.inputs import JobInputs, SymbolData, read_job_inputs
from multigate.sources.vix.quirks import QuirkCounts, count_quirks
from multigate.storage.layout import ingested_root, path_component, raw_root
from multigate.storage.parquet import write_parquet
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    digest_file,
    fingerprint,
    package_versions,
)
from multigate.storage.publish import (
    output_is_current,
    publish_bytes_if_changed,
    retract_output,
)
from multigate.storage.publish_together import PendingFile, publish_together

log = logging.getLogger(__name__)

CONVERTER_VERSION = "vix-csv/2"  # 2: files of one symbol merge; close-only rows counted
_VENDORS = {"cboe": "CBOE", "fred": "FRED"}
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
        for data in inputs.symbols.values():
            output = self._output_path(job, data.symbol)
            _, expected = self._fingerprint(job, data)
            current = output_is_current(output, expected, force=self.ctx.force)
            (plan.current if current else plan.writes).append(str(output))
            if len(data.files) > 1:
                plan.notes.append(f"{data.symbol}: merges {len(data.files)} files by date")
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
        inputs = self._read(job, [(self._raw_path(symbol), symbol) for symbol in job.symbols])
        inputs.check()
        result.absorb(self._publish(job, inputs))
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
        inputs = self._read(job, files)
        if inputs.problems:
            for symbol in sorted(inputs.failing):
                output = self._output_path(job, symbol)
                if retract_output(output, source=self.name, job=job.name):
                    log.warning("%s: removed %s: its inputs no longer convert", job.name, output)
            inputs.check()
        return self._publish(job, inputs)

    # ----- shared conversion (the only path from CSV bytes to Parquet) -----------------
    def _fingerprint(self, job: JobConfig, data: SymbolData) -> tuple[list[FileDigest], str]:
        """The inputs' digests and the fingerprint their output must carry to be current."""
        digests = [digest_file(path, relative_to=self.ctx.data_dir) for path in data.files]
        params = {
            "converter": CONVERTER_VERSION,
            "symbol": data.symbol,
            "start": getattr(job, "start", None),
            "end": getattr(job, "end", None),
        }
        return digests, fingerprint(params, digests)

    def _publish(self, job: JobConfig, inputs: JobInputs) -> JobResult:
        """Write every symbol's output that is not current, all together: none is
        published unless all are written."""
        result = JobResult(JobStatus.OK)
        pending: list[PendingFile] = []
        with self.ctx.progress.task(f"{job.name}: convert", total=len(inputs.symbols)) as task:
            for data in inputs.symbols.values():
                output = self._output_path(job, data.symbol)
                quirks = count_quirks(data.table)
                rows = data.table.num_rows
                notes = [f"{data.symbol}: {text}" for text in quirks.problems()]
                for note in notes:
                    log.warning("%s: %s (kept)", job.name, note)
                if rows == 0:
                    notes.append(f"{data.symbol}: no rows inside the job's start/end window")
                    log.warning("%s: %s", job.name, notes[-1])
                for fact in quirks.facts():
                    notes.append(f"{data.symbol}: {fact}")
                    log.info("%s: %s: %s (kept)", job.name, data.symbol, fact)
                digests, expected = self._fingerprint(job, data)
                part = JobResult(JobStatus.OK, rows=rows, warnings=notes, outputs=[output])
                if output_is_current(output, expected, force=self.ctx.force):
                    log.debug("up to date: %s", output)
                    part.files_current = 1
                else:
                    part.files_written = 1
                    describe = self._describer(job, data, digests, expected, quirks)
                    pending.append(PendingFile(output, _parquet_writer(data.table), describe))
                result.absorb(part)
                task.advance()
        publish_together(pending, data_dir=self.ctx.data_dir, now=self.ctx.now())
        for item in pending:
            log.debug("wrote %s", item.path)
        return result

    def _describer(
        self,
        job: JobConfig,
        data: SymbolData,
        inputs: list[FileDigest],
        expected: str,
        quirks: QuirkCounts,
    ) -> Callable[[FileDigest], Provenance]:
        table = data.table

        def describe(digest: FileDigest) -> Provenance:
            return Provenance(
                kind="ingested",
                source=self.name,
                job=job.name,
                mode=job.mode,
                query=job.model_dump(mode="json"),
                vendor={
                    "vendor": "+".join(_VENDORS[flavor] for flavor in data.flavors),
                    "format": "+".join(data.flavors),
                    "series": ",".join(data.series) or None,
                },
                file=digest,
                fingerprint=expected,
                inputs=inputs,
                rows=table.num_rows,
                first_ts=str(table["date"][0]) if table.num_rows else None,
                last_ts=str(table["date"][-1]) if table.num_rows else None,
                symbols=[data.symbol],
                tools=package_versions(_TOOLS),
                extra={
                    "converter": CONVERTER_VERSION,
                    **quirks.sidecar(),
                    "dates_in_several_files": data.shared_dates,
                },
            )

        return describe


def _parquet_writer(table: pa.Table) -> Callable[[Path], None]:
    return lambda tmp: write_parquet(table, tmp)


def _within(table: pa.Table, job: JobConfig) -> pa.Table:
    """Rows inside the job's optional [start, end] date window."""
    start, end = getattr(job, "start", None), getattr(job, "end", None)
    if start is not None:
        table = table.filter(pc.greater_equal(table["date"], pa.scalar(start, pa.date32())))
    if end is not None:
        table = table.filter(pc.less_equal(table["date"], pa.scalar(end, pa.date32())))
    return table
