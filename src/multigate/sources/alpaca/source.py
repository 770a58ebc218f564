"""The ``alpaca`` source: stock and crypto bars from the market-data API or local files."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from multigate.config.models import JobConfig, range_end, range_start
from multigate.engine import ConvertTask, plan_convert_tasks, run_convert_tasks
from multigate.errors import ConfigError, DataError
from multigate.pacing import RequestPacer
from multigate.sources.alpaca.actions_task import actions_task
from multigate.sources.alpaca.client import RetryingCryptoClient, RetryingStockClient
from multigate.sources.alpaca.config import (
    VENDOR_ADJUSTED_UPDATES,
    AlpacaApiJob,
    AlpacaCorporateActionsJob,
    AlpacaOfflineJob,
    AlpacaSourceConfig,
)
from multigate.sources.alpaca.convert import (
    CONVERTER,
    CONVERTER_VERSION,
    convert_symbol,
    notes_from_sidecar,
    symbols_in,
    task_params,
)
from multigate.sources.alpaca.download import download_chunk, missing_requests
from multigate.sources.alpaca.paths import (
    CRYPTO_FEED,
    NO_ADJUSTMENT,
    Series,
    output_path,
    raw_chunk_path,
    raw_symbol_folder,
)
from multigate.sources.alpaca.raw_compact import compact_chunk, needs_compacting
from multigate.sources.alpaca.raw_pieces import (
    Cover,
    Use,
    complete_files,
    cover,
    raw_files,
)
from multigate.sources.alpaca.timeframe import completed_bars_end, default_chunk_period
from multigate.sources.base import JobPlan, JobResult, JobStatus, Source
from multigate.sources.local_inputs import find_path_inputs, require_path_inputs
from multigate.storage.chunks_on_disk import FETCHED_AT
from multigate.storage.provenance import FileDigest, Provenance, package_versions
from multigate.time_chunks import (
    Chunk,
    next_boundary,
    period_floor,
    plan_chunks,
)

log = logging.getLogger(__name__)

KEY_ID, SECRET_KEY = "APCA_API_KEY_ID", "APCA_API_SECRET_KEY"
_TOOLS = ("multigate", "alpaca-py", "pyarrow", "pandas")
MAX_PIECES_PER_CHUNK = 31  # a running chunk (daily bars in a year) is compacted past this


class AlpacaSource(Source[AlpacaSourceConfig]):
    name = "alpaca"
    config_model = AlpacaSourceConfig

    # ----- parameters -------------------------------------------------------------------
    @staticmethod
    def _series(job: AlpacaApiJob | AlpacaOfflineJob) -> Series:
        if job.asset_class == "crypto" and isinstance(job, AlpacaApiJob):
            return Series(job.timeframe, CRYPTO_FEED, NO_ADJUSTMENT)
        return Series(job.timeframe, job.feed, job.adjustment)

    def _range(self, job: AlpacaApiJob) -> tuple[datetime, datetime]:
        """[start, end) to hold: the job's range, but never past the last bar that ended
        at least the job's settle margin ago (an `end`-less job runs up to now), so no
        stored bar can still change."""
        done = completed_bars_end(self.ctx.now() - job.settle_margin(), job.timeframe)
        end = done if job.end is None else min(range_end(job.end), done)
        return range_start(job.start), end

    def _chunks(self, job: AlpacaApiJob) -> list[Chunk]:
        start, end = self._range(job)
        return plan_chunks(start, end, job.chunk or default_chunk_period(job.timeframe))

    def _raw_path(self, job: AlpacaApiJob, symbol: str, chunk: Chunk) -> Path:
        return raw_chunk_path(self.ctx.data_dir, job.asset_class, self._series(job), symbol, chunk)

    def _covers(self, job: AlpacaApiJob, chunks: Sequence[Chunk]) -> dict[str, list[Cover]]:
        """For each symbol, how its stored raw files cover each chunk (and the gaps)."""
        covers = {}
        for symbol in job.symbols:
            folder = raw_symbol_folder(
                self.ctx.data_dir, job.asset_class, self._series(job), symbol
            )
            complete = complete_files(raw_files(folder))
            covers[symbol] = [cover(chunk, complete) for chunk in chunks]
        return covers

    def _client(self, job: AlpacaApiJob) -> RetryingStockClient | RetryingCryptoClient:
        key, secret = self.ctx.env.get(KEY_ID), self.ctx.env.get(SECRET_KEY)
        pacer = RequestPacer(self.config.requests_per_minute, sleep=self.ctx.sleep)
        options = {
            "url_override": self.config.base_url,
            "http": self.config.http,
            "sleep": self.ctx.sleep,
            "pacer": pacer,
        }
        if job.asset_class == "crypto":
            return RetryingCryptoClient(key, secret, **options)  # type: ignore[arg-type]
        if not key or not secret:
            raise ConfigError(
                f"job {job.name}: set {KEY_ID} and {SECRET_KEY} in the environment or .env"
            )
        return RetryingStockClient(key, secret, **options)  # type: ignore[arg-type]

    # ----- Source interface ------------------------------------------------------------
    def preflight(self, job: JobConfig) -> None:
        if isinstance(job, AlpacaApiJob):
            start, end = self._range(job)
            if end <= start:
                raise ConfigError(
                    f"job {job.name}: start {start:%Y-%m-%d %H:%M} UTC is in the future "
                    f"(no {job.timeframe} bar has ended since, settle_minutes included); "
                    "nothing can be fetched yet"
                )
            if (
                job.adjustment != "raw"
                and job.end is not None
                and range_end(job.end) > self.ctx.now()
            ):
                raise ConfigError(f"job {job.name}: {VENDOR_ADJUSTED_UPDATES}")
        if isinstance(job, AlpacaOfflineJob):
            found = self._offline_inputs(job)
            require_path_inputs(job.path, self.ctx.resolve(job.path), found, "bar file")
        if isinstance(job, AlpacaCorporateActionsJob):
            where = job.corporate_actions
            found = find_path_inputs(self.ctx.resolve(where))
            require_path_inputs(where, self.ctx.resolve(where), found, "corporate-actions file")
        if isinstance(job, AlpacaApiJob) and job.asset_class == "stocks" and not self.ctx.dry_run:
            if not self.ctx.env.get(KEY_ID) or not self.ctx.env.get(SECRET_KEY):
                raise ConfigError(f"set {KEY_ID} and {SECRET_KEY} in the environment or .env")

    def plan(self, job: JobConfig) -> JobPlan:
        if isinstance(job, AlpacaApiJob):
            chunks = self._chunks(job)
            covers = self._covers(job, chunks)
            todo = missing_requests(covers)
            plan = JobPlan(cost_usd=0.0)
            plan.downloads = [
                f"{len(r.symbols)} symbol(s) {r.chunk.start:%Y-%m-%d %H:%M} .. "
                f"{r.chunk.end:%Y-%m-%d %H:%M} UTC ({job.timeframe}, {self._series(job).feed})"
                for r in todo
            ]
            stored = sum(c.complete for symbol_covers in covers.values() for c in symbol_covers)
            plan.notes.append(f"{stored} symbol-chunks already stored, {len(todo)} requests")
            plan.writes = [str(self._output(job, s)) for s in job.symbols]
            return plan
        if isinstance(job, AlpacaCorporateActionsJob):
            task = actions_task(self.ctx, job)
            plan = JobPlan(reads=[str(p) for p in task.inputs], cost_usd=0.0)
            plan_convert_tasks([task], self.ctx, plan)
            return plan
        assert isinstance(job, AlpacaOfflineJob)
        plan = JobPlan(reads=[str(p) for p in self._offline_inputs(job)], cost_usd=0.0)
        plan_convert_tasks(self._offline_tasks(job), self.ctx, plan)  # reads what a run would
        return plan

    def run(self, job: JobConfig) -> JobResult:
        if isinstance(job, AlpacaApiJob):
            return self._run_api(job)
        if isinstance(job, AlpacaCorporateActionsJob):
            return run_convert_tasks([actions_task(self.ctx, job)], self.ctx)
        assert isinstance(job, AlpacaOfflineJob)
        return run_convert_tasks(self._offline_tasks(job), self.ctx)

    # ----- API mode --------------------------------------------------------------------
    def _run_api(self, job: AlpacaApiJob) -> JobResult:
        chunks = self._chunks(job)

        def path_for(symbol: str, chunk: Chunk) -> Path:
            return self._raw_path(job, symbol, chunk)

        todo = missing_requests(self._covers(job, chunks))
        result = JobResult(JobStatus.OK)
        if todo:
            client = self._client(job)
            stocks = job.asset_class == "stocks"
            with self.ctx.progress.task(f"{job.name}: download", total=len(todo)) as task:
                for request in todo:
                    files, bars = download_chunk(
                        client,
                        request,
                        timeframe=job.timeframe,
                        adjustment=job.adjustment if stocks else None,
                        feed=job.feed if stocks else None,
                        path_for=path_for,
                        describe=lambda s, c, d, n, at: self._describe_raw(job, s, c, d, n, at),
                        data_dir=self.ctx.data_dir,
                        now=self.ctx.now,
                    )
                    log.debug("chunk %s..%s: %d bars", request.chunk.start, request.chunk.end, bars)
                    result.files_written += files
                    task.advance()
        covers = self._covers(job, chunks)
        tasks = [
            self._api_task(job, symbol, self._compact(job, symbol, covers[symbol]))
            for symbol in job.symbols
        ]
        result.absorb(run_convert_tasks(tasks, self.ctx))
        return result

    def _compact(self, job: AlpacaApiJob, symbol: str, covers: Sequence[Cover]) -> list[Use]:
        """Compact the pieces of each finished chunk (and of a running chunk holding more
        than MAX_PIECES_PER_CHUNK) into one file; returns the files to convert."""
        period = job.chunk or default_chunk_period(job.timeframe)
        folder = raw_symbol_folder(self.ctx.data_dir, job.asset_class, self._series(job), symbol)
        files = raw_files(folder)
        uses: list[Use] = []
        for chunk_cover in covers:
            if not chunk_cover.complete:
                raise DataError(
                    f"job {job.name}: {symbol} {chunk_cover.chunk.start:%Y-%m-%d %H:%M}.."
                    f"{chunk_cover.chunk.end:%Y-%m-%d %H:%M} UTC is still not stored"
                )
            chunk = chunk_cover.chunk
            target = self._raw_path(job, symbol, chunk)
            finished = chunk.end == next_boundary(period_floor(chunk.start, period), period)
            crowded = len(chunk_cover.uses) > MAX_PIECES_PER_CHUNK
            if (finished or crowded) and needs_compacting(chunk_cover, files):

                def describe(
                    digest: FileDigest,
                    bars: int,
                    at: datetime,
                    merged: list[dict[str, Any]],
                    chunk: Chunk = chunk,
                ) -> Provenance:
                    return self._describe_raw(job, symbol, chunk, digest, bars, at, merged)

                uses.extend(
                    compact_chunk(
                        chunk_cover,
                        symbol,
                        target,
                        files,
                        describe,
                        data_dir=self.ctx.data_dir,
                        now=self.ctx.now(),
                    )
                )
                continue
            uses.extend(chunk_cover.uses)
        return uses

    def _describe_raw(
        self,
        job: AlpacaApiJob,
        symbol: str,
        chunk: Chunk,
        digest: FileDigest,
        bars: int,
        fetched_at: datetime,
        merged: list[dict[str, Any]] | None = None,
    ) -> Provenance:
        """A raw file's provenance; `merged` lists the pieces a compacted file holds."""
        timeframe, feed, adjustment = self._series(job)
        extra: dict[str, Any] = {FETCHED_AT: fetched_at.isoformat(), "chunk_end_exclusive": True}
        if merged is not None:
            extra["merged"] = merged
        return Provenance(
            kind="raw",
            source=self.name,
            job=job.name,
            mode=job.mode,
            query={
                "endpoint": "crypto/us/bars" if job.asset_class == "crypto" else "stocks/bars",
                "base_url": self.config.base_url or "https://data.alpaca.markets",
                "symbols": [symbol],
                "timeframe": timeframe,
                "start": chunk.start.isoformat(),
                "end": chunk.end.isoformat(),
                "feed": feed,
                "adjustment": adjustment,
            },
            vendor={
                "vendor": "Alpaca",
                "asset_class": job.asset_class,
                "feed": feed,
                "adjustment": adjustment,
                "timeframe": timeframe,
            },
            file=digest,
            fingerprint=digest.sha256,
            rows=bars,
            first_ts=chunk.start.isoformat(),
            last_ts=chunk.end.isoformat(),
            symbols=[symbol],
            tools=package_versions(_TOOLS),
            extra=extra,
        )

    # ----- conversion: which files make which output (the engine does the rest) ---------
    def _offline_inputs(self, job: AlpacaOfflineJob) -> list[Path]:
        return find_path_inputs(self.ctx.resolve(job.path))

    def _output(self, job: AlpacaApiJob | AlpacaOfflineJob, symbol: str) -> Path:
        return output_path(self.ctx.data_dir, job.name, self._series(job), symbol)

    def _offline_tasks(self, job: AlpacaOfflineJob) -> list[ConvertTask]:
        """One task per symbol found, over the files that hold it. Every file's symbols are
        read here first (a CSV's or Parquet file's symbol column alone): a file that cannot
        name its symbols fails the job before anything converts."""
        holding: dict[str, list[Path]] = {}
        for path in self._offline_inputs(job):  # never empty: preflight checked
            for symbol in symbols_in(path, job.symbol):
                holding.setdefault(symbol, []).append(path)
        return [
            self._task(job, symbol, paths, [None] * len(paths), fill_symbol=job.symbol)
            for symbol, paths in sorted(holding.items())
        ]

    def _api_task(self, job: AlpacaApiJob, symbol: str, uses: Sequence[Use]) -> ConvertTask:
        """The raw files (or parts of a shared wider file) that make one symbol's output:
        one input per use, each with its window, so a file two chunks share is read twice."""
        inputs = [use.file.path for use in uses]
        windows = [None if use.whole else use.window for use in uses]
        return self._task(job, symbol, inputs, windows, fill_symbol=symbol)

    def _task(
        self,
        job: AlpacaApiJob | AlpacaOfflineJob,
        symbol: str,
        inputs: Sequence[Path],
        windows: Sequence[Chunk | None],
        *,
        fill_symbol: str | None,
    ) -> ConvertTask:
        series = self._series(job)
        timeframe, feed, adjustment = series
        return ConvertTask(
            inputs=tuple(inputs),
            output=self._output(job, symbol),
            converter=CONVERTER,
            converter_version=CONVERTER_VERSION,
            convert=convert_symbol,
            params=task_params(symbol, series, fill_symbol, windows),
            source=self.name,
            job=job.name,
            mode=job.mode,
            query=job.model_dump(mode="json"),
            vendor={
                "vendor": "Alpaca",
                "asset_class": job.asset_class,
                "timeframe": timeframe,
                "feed": feed,
                "adjustment": adjustment,
            },
            tools=_TOOLS,
            notes_when_current=notes_from_sidecar,
        )
