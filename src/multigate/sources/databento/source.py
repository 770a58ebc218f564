"""The ``databento`` source: DBN files to faithful Parquet, and a guarded, never-pay-twice
download path through ``timeseries.get_range``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from multigate.config.models import JobConfig, range_end, range_start
from multigate.errors import ConfigError, DataError, LocalWriteError
from multigate.guardrails import (
    Spend,
    approve_cost,
    budget_note,
    describe_quote,
    parse_quote,
    spend_from_ledger,
)
from multigate.sources.base import (
    JobFailedAfterWriting,
    JobPlan,
    JobResult,
    JobStatus,
    Source,
)
from multigate.sources.databento.api import DatabentoApi, range_request
from multigate.sources.databento.config import (
    DatabentoApiJob,
    DatabentoOfflineJob,
    DatabentoSourceConfig,
)
from multigate.sources.databento.dbn_convert import ConvertedOutput, convert_dbn_file
from multigate.sources.databento.dbn_info import DbnFileInfo, read_dbn_metadata
from multigate.sources.databento.download import (
    TOOLS,
    ChunkDownloader,
    PlannedChunk,
    total_quote,
    unknown_quote_notes,
)
from multigate.sources.databento.errors import DbnFileError
from multigate.sources.databento.paid_leftovers import leftovers_note, unplanned_leftovers
from multigate.sources.databento.paths import (
    DBN_SUFFIXES,
    LEGACY_SUFFIXES,
    chunk_stem,
    ledger_path,
    output_path,
    raw_chunk_path,
    relative_stem,
)
from multigate.sources.local_inputs import (
    find_path_inputs,
    glob_base,
    require_folder_inputs,
    require_path_inputs,
)
from multigate.storage.atomic import atomic_path, leftover_paid_temps
from multigate.storage.chunks_on_disk import chunk_is_stored
from multigate.storage.layout import ingested_root, raw_root
from multigate.storage.ledger import append_ledger, read_ledger_lines
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    digest_file,
    digest_file_as,
    fingerprint,
    package_versions,
    read_sidecar,
)
from multigate.storage.publish import output_is_current, write_output_sidecar
from multigate.time_chunks import Chunk, plan_chunks

log = logging.getLogger(__name__)

# 2: v1/v2 definitions keep the fields v3 dropped; live captures map in-stream symbols
# 3: definitions of every version carry those four columns (null from v3 files)
CONVERTER_VERSION = "databento-dbn/3"
API_KEY = "DATABENTO_API_KEY"


@dataclass(frozen=True)
class ConversionTarget:
    """One input file's conversion: its metadata and digest, the fingerprint its outputs
    must carry, the outputs known so far, and whether they are all current."""

    info: DbnFileInfo
    digest: FileDigest
    fingerprint: str
    outputs: list[Path]
    current: bool


class DatabentoSource(Source[DatabentoSourceConfig]):
    name = "databento"
    config_model = DatabentoSourceConfig
    _write_refused: str | None = None
    """Set when a download could not be stored: the run's later paid downloads are refused."""

    # ----- API parameters ---------------------------------------------------------------
    def preflight(self, job: JobConfig) -> None:
        if isinstance(job, DatabentoOfflineJob):
            self._require_inputs(job)
            return
        assert isinstance(job, DatabentoApiJob)
        if range_end(job.end) > self.ctx.now():
            raise ConfigError(
                f"end {job.end} is not in the past; a chunk that is still filling up would "
                "be paid for again on every run. Set end to a time that has passed (a "
                "date-only end includes that whole day)."
            )
        if not self.ctx.dry_run and not self.ctx.env.get(API_KEY):
            raise ConfigError(f"set {API_KEY} in the environment or .env")

    def _pieces(self, job: DatabentoApiJob) -> list[tuple[str, Chunk]]:
        chunks = plan_chunks(range_start(job.start), range_end(job.end), job.chunk)
        return [(symbol, chunk) for symbol in job.symbol_list for chunk in chunks]

    def _raw_path(self, job: DatabentoApiJob, symbol: str, chunk: Chunk) -> Path:
        return raw_chunk_path(
            self.ctx.data_dir, job.dataset, job.schema_, job.stype_in, symbol, chunk
        )

    def _missing(self, job: DatabentoApiJob) -> list[tuple[str, Chunk]]:
        return [
            (s, c)
            for s, c in self._pieces(job)
            if not chunk_is_stored(self._raw_path(job, s, c), c.end)
        ]

    def _unplanned_leftovers(self, job: DatabentoApiJob) -> list[str]:
        """A note listing dead runs' paid downloads no job plans (shown by one job)."""
        api_jobs = [j for j in self.config.jobs if isinstance(j, DatabentoApiJob)]
        planned = [self._raw_path(j, s, c) for j in api_jobs for s, c in self._pieces(j)]
        owners = [  # (job, its dataset/schema/stype folder)
            (j.name, self._raw_path(j, s, c).parent.parent)
            for j in api_jobs
            for s, c in self._pieces(j)[:1]
        ]
        root = raw_root(self.ctx.data_dir, self.name)
        found = unplanned_leftovers(root, planned, owners, job.name)
        if not found:
            return []
        note = leftovers_note(found)
        log.warning("%s: %s", job.name, note)  # the log keeps the full paths
        return [note]

    def _request(self, job: DatabentoApiJob, symbol: str, chunk: Chunk) -> dict[str, str]:
        return range_request(job.dataset, job.schema_, symbol, job.stype_in, chunk)

    def _api(self) -> DatabentoApi:
        key = self.ctx.env.get(API_KEY)
        if not key:
            raise ConfigError(f"set {API_KEY} in the environment or .env")
        return DatabentoApi(key, self.config.base_url, self.config.http, self.ctx.sleep)

    def _quote(
        self, api: DatabentoApi, job: DatabentoApiJob, missing: Sequence[tuple[str, Chunk]]
    ) -> list[PlannedChunk]:
        """The vendor's price for each missing chunk (free to ask; logged unless dry run)."""
        planned = []
        ledger = ledger_path(self.ctx.data_dir)
        for symbol, chunk in missing:
            request = self._request(job, symbol, chunk)
            answer = api.get_cost(request)
            usd = parse_quote(answer)
            unknown = None if usd is not None else describe_quote(answer)
            if unknown is not None:
                log.warning(
                    "%s: the quote for %s %s was not a price: %s",
                    job.name,
                    symbol,
                    request["start"],
                    unknown,
                )
            path = self._raw_path(job, symbol, chunk)
            planned.append(PlannedChunk(path, request, usd, unknown))
            if not self.ctx.dry_run:
                fields = {"job": job.name, "usd": usd, **request}
                if unknown is not None:
                    fields["quote"] = unknown
                append_ledger(ledger, "estimate", fields, at=self.ctx.now())
        return planned

    def _spend(self, job: DatabentoApiJob) -> Spend | None:
        """What the ledger shows ``job`` was billed so far, when a budget needs it."""
        if job.budget_usd is None:
            return None
        path = ledger_path(self.ctx.data_dir)
        numbered = read_ledger_lines(path)
        return spend_from_ledger(
            [record for _, record in numbered],
            job.name,
            lines=[number for number, _ in numbered],
            ledger=str(path),
        )

    # ----- Source interface ---------------------------------------------------------------
    def plan(self, job: JobConfig) -> JobPlan:
        if isinstance(job, DatabentoOfflineJob):
            inputs = self._offline_inputs(job)
            plan = JobPlan(reads=[str(p) for p in inputs], cost_usd=0.0)
            base = self._offline_base(job)
            failures = []
            for path in inputs:
                try:
                    target = self._target(job, path, relative_stem(path, base))
                except DbnFileError as exc:  # the run would fail on it: so does the dry run
                    failures.append(str(exc))
                    log.error("%s: %s", job.name, exc)
                    continue
                listed = [str(p) for p in target.outputs] or [f"{path.name} -> schema=*/"]
                (plan.current if target.current else plan.writes).extend(listed)
            if failures:
                raise DataError(_failure_message(failures, len(inputs)))
            return plan
        assert isinstance(job, DatabentoApiJob)
        missing = self._missing(job)
        pieces = self._pieces(job)
        plan = JobPlan(cost_usd=0.0)
        plan.downloads = [
            f"{job.dataset} {job.schema_} {symbol} {chunk.start:%Y-%m-%d %H:%M} .. "
            f"{chunk.end:%Y-%m-%d %H:%M} UTC"
            for symbol, chunk in missing
        ]
        plan.notes.append(
            f"{len(pieces) - len(missing)} of {len(pieces)} chunks already "
            "stored (not quoted, not downloaded)"
        )
        plan.writes = [str(ingested_root(self.ctx.data_dir, self.name, job.name))]
        received = [(s, c) for s, c in missing if leftover_paid_temps(self._raw_path(job, s, c))]
        if received:
            plan.notes.append(
                f"{len(received)} chunk(s) have a download left by an interrupted run: the "
                "next run verifies it and keeps it if complete (quoted here in case it is not)"
            )
        if missing:
            if not self.ctx.env.get(API_KEY):
                plan.cost_usd = None
                plan.notes.append(f"cost unknown: {API_KEY} is not set")
            else:
                planned = self._quote(self._api(), job, missing)
                plan.cost_usd = total_quote(planned)
                plan.notes.extend(unknown_quote_notes(planned))
        plan.notes.extend(self._unplanned_leftovers(job))
        spent = self._spend(job)
        if spent is not None and job.budget_usd is not None:
            plan.notes.append(budget_note(job.budget_usd, spent, plan.cost_usd if missing else 0.0))
        return plan

    def run(self, job: JobConfig) -> JobResult:
        if isinstance(job, DatabentoOfflineJob):
            inputs = self._offline_inputs(job)  # never empty: preflight checked
            base = self._offline_base(job)
            return self._convert_all(job, [(p, relative_stem(p, base)) for p in inputs])
        assert isinstance(job, DatabentoApiJob)
        result = JobResult(JobStatus.OK)
        result.warnings.extend(self._unplanned_leftovers(job))
        recorder = ChunkDownloader(
            None, job, self.ctx, ledger_path(self.ctx.data_dir), self.config.base_url
        )
        missing = [
            (symbol, chunk)
            for symbol, chunk in self._missing(job)
            if not recorder.recover(
                self._raw_path(job, symbol, chunk), self._request(job, symbol, chunk)
            )
        ]
        if missing:
            if self._write_refused is not None:
                raise LocalWriteError(
                    f"not downloading {len(missing)} chunk(s): an earlier job of this run "
                    f"could not write to {self.ctx.data_dir} ({self._write_refused}), so no "
                    "paid call was made. Make room (or fix the permissions) and re-run."
                )
            api = self._api()
            spent = self._spend(job)
            planned = self._quote(api, job, missing)
            total = total_quote(planned)
            approve_cost(
                job.name,
                total,
                job,
                self.ctx,
                what=f"{len(missing)} chunk(s) of {job.dataset} {job.schema_}",
                spent=spent,
            )
            downloader = ChunkDownloader(
                api,
                job,
                self.ctx,
                ledger_path(self.ctx.data_dir),
                self.config.base_url,
                approved_usd=total,
                billed_before_usd=None if spent is None else spent.billed_usd,
            )
            try:
                result.files_written += downloader.download_all(planned)
            except LocalWriteError as exc:  # the later paid jobs of this run would hit it too
                self._write_refused = f"job {job.name}: {_first_sentence(str(exc))}"
                raise
            finally:
                result.warnings.extend(downloader.warnings)
        else:
            log.info("%s: every chunk already stored; nothing to quote or download", job.name)
        pieces = [(self._raw_path(job, s, c), chunk_stem(s, c)) for s, c in self._pieces(job)]
        try:
            result.absorb(self._convert_all(job, pieces))
        except JobFailedAfterWriting as exc:  # report the downloads too
            result.absorb(exc.done)
            raise JobFailedAfterWriting(str(exc), result) from exc
        return result

    # ----- conversion (the only path from DBN to Parquet, for both modes) ------------------
    def _offline_inputs(self, job: DatabentoOfflineJob) -> list[Path]:
        if job.raw_dir is not None:
            root = self.ctx.resolve(job.raw_dir)
            # legacy .dbz files are listed too, so that each fails by name
            suffixes = DBN_SUFFIXES + LEGACY_SUFFIXES
            found = [p for p in root.rglob("*") if p.name.endswith(suffixes)]
        else:
            found = find_path_inputs(self.ctx.resolve(job.path or ""))
        return sorted(p for p in found if p.is_file() and not p.name.startswith("."))

    def _require_inputs(self, job: DatabentoOfflineJob) -> None:
        found = self._offline_inputs(job)
        if job.raw_dir is not None:
            folder = self.ctx.resolve(job.raw_dir)
            require_folder_inputs(job.raw_dir, folder, found, ".dbn or .dbn.zst files")
        else:
            path = job.path or ""
            require_path_inputs(path, self.ctx.resolve(path), found, "DBN file")

    def _offline_base(self, job: DatabentoOfflineJob) -> Path:
        if job.raw_dir is not None:
            return self.ctx.resolve(job.raw_dir)
        return glob_base(self.ctx.resolve(job.path or ""))

    def _convert_all(
        self, job: DatabentoApiJob | DatabentoOfflineJob, inputs: Sequence[tuple[Path, str]]
    ) -> JobResult:
        result = JobResult(JobStatus.OK)
        failures = []
        with self.ctx.progress.task(f"{job.name}: convert", total=len(inputs)) as task:
            for path, stem in inputs:
                try:
                    result.absorb(self._convert_one(job, path, stem))
                except DbnFileError as exc:  # one bad file does not stop the others
                    failures.append(str(exc))
                    log.error("%s: %s", job.name, exc)
                task.advance()
        if failures:  # reported with what the other inputs wrote
            raise JobFailedAfterWriting(_failure_message(failures, len(inputs)), result)
        return result

    def _target(
        self, job: DatabentoApiJob | DatabentoOfflineJob, src: Path, stem: str
    ) -> ConversionTarget:
        """What converting ``src`` depends on, where its outputs go, and whether they are
        all current already."""
        info = read_dbn_metadata(src)
        digest = digest_file(src, relative_to=self.ctx.data_dir)
        params = {"converter": CONVERTER_VERSION, "price_type": job.price_type}
        expected = fingerprint(params, [digest])
        root = ingested_root(self.ctx.data_dir, self.name, job.name)
        known = (
            [output_path(self.ctx.data_dir, job.name, info.schema, stem)]
            if info.schema
            else sorted(root.glob(f"schema=*/{stem}.parquet"))
        )
        current = bool(known) and all(
            output_is_current(p, expected, force=self.ctx.force) for p in known
        )
        return ConversionTarget(info, digest, expected, known, current)

    def _convert_one(
        self, job: DatabentoApiJob | DatabentoOfflineJob, src: Path, stem: str
    ) -> JobResult:
        target = self._target(job, src, stem)
        if target.current:
            kept = target.outputs
            sidecars = [read_sidecar(p) or {} for p in kept]
            rows = sum(sidecar.get("rows") or 0 for sidecar in sidecars)
            extra = sidecars[0].get("extra") or {}
            notes = _control_warning(
                src.name, extra.get("other_records") or {}, extra.get("error_messages") or [], True
            )
            if notes:
                log.warning("%s: %s", job.name, notes)
            return JobResult(
                JobStatus.UP_TO_DATE,
                rows=rows,
                files_current=len(kept),
                outputs=kept,
                warnings=[notes] if notes else [],
            )

        finals: dict[str, Path] = {}
        temps: dict[str, Path] = {}
        with contextlib.ExitStack() as stack:

            def output_for(schema: str) -> Path:
                final = output_path(self.ctx.data_dir, job.name, schema, stem)
                finals[schema] = final
                temps[schema] = stack.enter_context(atomic_path(final, sidecar_written=True))
                return temps[schema]

            records = stack.enter_context(self.ctx.progress.task(f"{src.name}: records"))
            done = 0

            def advance(total: int) -> None:
                nonlocal done
                records.advance(total - done)
                done = total

            outputs = convert_dbn_file(src, output_for, price_type=job.price_type, progress=advance)
            # Each sidecar goes in place before its file moves (when the stack closes).
            for out in outputs:
                self._write_output_sidecar(job, target, out, temps[out.schema], finals[out.schema])
        result = JobResult(JobStatus.OK)
        notes = _control_warning(
            src.name, outputs.other_records, outputs.error_messages, bool(outputs)
        )
        if notes:  # every run: a file without outputs is never current
            log.warning("%s: %s", job.name, notes)
            result.warnings.append(notes)
        for out in outputs:
            final = finals[out.schema]
            log.debug("wrote %s (%d rows)", final, out.rows)
            result.absorb(JobResult(JobStatus.OK, rows=out.rows, files_written=1, outputs=[final]))
        return result

    def _write_output_sidecar(
        self,
        job: DatabentoApiJob | DatabentoOfflineJob,
        target: ConversionTarget,
        out: ConvertedOutput,
        temp: Path,
        final: Path,
    ) -> None:
        """The sidecar of ``final`` for the bytes now in ``temp`` (written before the move)."""
        info = target.info
        write_output_sidecar(
            final,
            Provenance(
                kind="ingested",
                source=self.name,
                job=job.name,
                mode=job.mode,
                query=job.model_dump(mode="json", by_alias=True),
                vendor={
                    "vendor": "Databento",
                    "dataset": info.dataset,
                    "schema": out.schema,
                    "stype_in": info.stype_in,
                    "stype_out": info.stype_out,
                    "dbn_version": info.version,
                },
                file=digest_file_as(temp, final, relative_to=self.ctx.data_dir),
                fingerprint=target.fingerprint,
                inputs=[target.digest],
                rows=out.rows,
                first_ts=_ns_iso(out.first_ts),
                last_ts=_ns_iso(out.last_ts),
                symbols=out.symbols,
                tools=package_versions(TOOLS),
                extra={
                    "converter": CONVERTER_VERSION,
                    "price_type": job.price_type,
                    # records of the input in no output (live captures: symbol mappings,
                    # system and error messages), by kind
                    "other_records": out.other_records,
                    "error_messages": out.error_messages,
                },
            ),
            created_at=self.ctx.now(),
            written=temp,
        )


def _failure_message(failures: Sequence[str], inputs: int) -> str:
    """What the run and the dry run say about the files that failed."""
    more = " (and more, see the log)" if len(failures) > 1 else ""
    return f"{len(failures)} of {inputs} files failed: {failures[0]}{more}"


def _control_warning(
    name: str, counts: dict[str, int], errors: Sequence[str], has_data: bool
) -> str | None:
    """What a file's records outside every output call for: its gateway error messages,
    or, with no market data at all, what it held instead."""
    listed = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"
    if errors:
        return (
            f"{name}: {counts.get('error', len(errors))} error message(s) from the gateway "
            f"in the stream, first: {errors[0]!r} (records in no output: {listed})"
        )
    if not has_data:
        return f"{name}: no market data, only control records ({listed})"
    return None


def _ns_iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    import pandas as pd

    return pd.Timestamp(ns, tz="UTC").isoformat()


def _first_sentence(text: str) -> str:
    return text.split(". ", 1)[0]
