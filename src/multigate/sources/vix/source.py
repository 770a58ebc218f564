"""The ``vix`` source: CBOE daily index history over HTTP, or local CBOE/FRED CSVs."""

from __future__ import annotations

import glob
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import requests

from multigate.config.models import JobConfig
from multigate.errors import DataError
from multigate.http import get_bytes
from multigate.sources.base import JobPlan, JobResult, JobStatus, Source
from multigate.sources.vix.config import (
    CBOE_DAILY_PRICES_URL,
    VixApiJob,
    VixOfflineJob,
    VixSourceConfig,
)
from multigate.sources.vix.csv_format import (
    count_inconsistent,
    parse_index_csv,
    symbol_from_filename,
    symbol_from_header,
)
from multigate.storage.layout import ingested_root, path_component, raw_root
from multigate.storage.parquet import write_parquet
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    digest_file,
    fingerprint,
    package_versions,
)
from multigate.storage.publish import output_is_current, publish_bytes_if_changed, publish_file

log = logging.getLogger(__name__)

CONVERTER_VERSION = "vix-csv/1"
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
        pattern = str(self.ctx.resolve(job.path))
        return sorted(Path(match) for match in glob.glob(pattern) if Path(match).is_file())

    # ----- Source interface --------------------------------------------------------------
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
        inputs = self._offline_inputs(job)
        plan = JobPlan(reads=[str(path) for path in inputs], cost_usd=0.0)
        if not inputs:
            plan.notes.append(f"no files match {job.path}")
        for path in inputs:
            symbol = job.symbol or symbol_from_filename(path.name) or symbol_from_header(path)
            if symbol is None:
                plan.notes.append(f"{path}: cannot tell the symbol; set 'symbol:' on the job")
                continue
            output = self._output_path(job, symbol)
            _, expected = self._fingerprint(job, path, symbol)
            current = output_is_current(output, expected, force=self.ctx.force)
            (plan.current if current else plan.writes).append(str(output))
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
                raw = self._download(job, symbol, session)
                result.absorb(raw)
                result.absorb(self._convert(job, self._raw_path(symbol), symbol))
                task.advance()
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
        inputs = self._offline_inputs(job)
        if not inputs:
            raise DataError(f"job {job.name}: no files match '{job.path}'")
        result = JobResult(JobStatus.OK)
        seen: dict[str, Path] = {}
        with self.ctx.progress.task(f"{job.name}: convert", total=len(inputs)) as task:
            for path in inputs:
                symbol = job.symbol or symbol_from_filename(path.name)
                part = self._convert(job, path, symbol, seen)
                result.absorb(part)
                task.advance()
        return result

    # ----- shared conversion (the only path from CSV bytes to Parquet) -----------------
    def _fingerprint(self, job: JobConfig, raw_path: Path, symbol: str) -> tuple[FileDigest, str]:
        """The input's digest and the fingerprint its output must carry to be current."""
        input_digest = digest_file(raw_path, relative_to=self.ctx.data_dir)
        params = {
            "converter": CONVERTER_VERSION,
            "symbol": symbol,
            "start": getattr(job, "start", None),
            "end": getattr(job, "end", None),
        }
        return input_digest, fingerprint(params, [input_digest])

    def _convert(
        self,
        job: JobConfig,
        raw_path: Path,
        symbol: str | None,
        seen: dict[str, Path] | None = None,
    ) -> JobResult:
        data = raw_path.read_bytes()
        parsed = parse_index_csv(data, str(raw_path), symbol)
        table = _within(parsed.table, job)
        symbol = parsed.table["symbol"][0].as_py()
        if seen is not None:
            if symbol in seen:
                raise DataError(
                    f"{raw_path} and {seen[symbol]} both hold {symbol}; "
                    "give each job one file per symbol"
                )
            seen[symbol] = raw_path
        inconsistent, missing_close = count_inconsistent(table), table["close"].null_count
        warnings = []
        if inconsistent:
            warnings.append(f"{symbol}: {inconsistent} rows with inconsistent OHLC")
        if missing_close:
            warnings.append(f"{symbol}: {missing_close} rows without a close")
        if table.num_rows == 0:
            warnings.append(f"{symbol}: no rows inside the job's start/end window")
        for warning in warnings:
            log.warning("%s: %s (kept)", job.name, warning)

        input_digest, expected = self._fingerprint(job, raw_path, symbol)
        output = self._output_path(job, symbol)
        if output_is_current(output, expected, force=self.ctx.force):
            log.debug("up to date: %s", output)
            return JobResult(
                JobStatus.UP_TO_DATE,
                rows=table.num_rows,
                files_current=1,
                warnings=warnings,
                outputs=[output],
            )

        def describe(digest: FileDigest) -> Provenance:
            return Provenance(
                kind="ingested",
                source=self.name,
                job=job.name,
                mode=job.mode,
                query=job.model_dump(mode="json"),
                vendor={
                    "vendor": "CBOE" if parsed.flavor == "cboe" else "FRED",
                    "format": parsed.flavor,
                    "series": parsed.series,
                },
                file=digest,
                fingerprint=expected,
                inputs=[input_digest],
                rows=table.num_rows,
                first_ts=str(table["date"][0]) if table.num_rows else None,
                last_ts=str(table["date"][-1]) if table.num_rows else None,
                symbols=[symbol],
                tools=package_versions(_TOOLS),
                extra={
                    "converter": CONVERTER_VERSION,
                    "inconsistent_rows": inconsistent,
                    "missing_close_rows": missing_close,
                },
            )

        publish_file(
            output,
            lambda tmp: write_parquet(table, tmp),
            describe,
            data_dir=self.ctx.data_dir,
            now=self.ctx.now(),
        )
        log.debug("wrote %s (%d rows)", output, table.num_rows)
        return JobResult(
            JobStatus.OK,
            rows=table.num_rows,
            files_written=1,
            warnings=warnings,
            outputs=[output],
        )


def _within(table: pa.Table, job: JobConfig) -> pa.Table:
    """Rows inside the job's optional [start, end] date window."""
    start, end = getattr(job, "start", None), getattr(job, "end", None)
    if start is not None:
        table = table.filter(pc.greater_equal(table["date"], pa.scalar(start, pa.date32())))
    if end is not None:
        table = table.filter(pc.less_equal(table["date"], pa.scalar(end, pa.date32())))
    return table
