"""The ``databento`` source: DBN files to faithful Parquet, and a guarded, never-pay-twice
download path through ``timeseries.get_range``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from multigate.config.models import JobConfig, range_end, range_start
from multigate.engine import ConvertTask, plan_convert_tasks, run_convert_tasks
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
    DatabentoReferenceJob,
    DatabentoSourceConfig,
)
from multigate.sources.databento.convert_task import (
    CONVERTER,
    CONVERTER_VERSION,
    notes_from_sidecar,
    split_dbn_file,
)
from multigate.sources.databento.dbn_info import read_dbn_metadata
from multigate.sources.databento.download import (
    TOOLS,
    ChunkDownloader,
    PlannedChunk,
    sidecar_disagrees,
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
from multigate.sources.databento.reference import JSONL_SUFFIXES, reference_stem
from multigate.sources.databento.reference_api import plan_reference, run_reference
from multigate.sources.databento.reference_tasks import reference_tasks
from multigate.sources.local_inputs import (
    find_path_inputs,
    glob_base,
    require_folder_inputs,
    require_path_inputs,
)
from multigate.storage.atomic import leftover_paid_temps
from multigate.storage.chunks_on_disk import chunk_is_stored
from multigate.storage.layout import ingested_root, raw_root
from multigate.storage.ledger import append_ledger, read_ledger_lines
from multigate.time_chunks import Chunk, plan_chunks

log = logging.getLogger(__name__)

API_KEY = "DATABENTO_API_KEY"


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
        if isinstance(job, DatabentoReferenceJob):
            if not self.ctx.dry_run and not self.ctx.env.get(API_KEY):
                raise ConfigError(f"set {API_KEY} in the environment or .env")
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
            tasks, failures = self._tasks(job, self._offline_pieces(job, inputs))
            plan_convert_tasks(tasks, self.ctx, plan)
            if failures:  # the run would fail on them: so does the dry run
                raise DataError(_failure_message(failures, len(inputs)))
            return plan
        if isinstance(job, DatabentoReferenceJob):
            return plan_reference(self.ctx, job)
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
        disagree = [(s, c) for s, c in missing if sidecar_disagrees(self._raw_path(job, s, c))]
        if disagree:
            plan.notes.append(
                f"{len(disagree)} chunk(s) do not match the sha256 their sidecar records: the "
                "run decodes each, re-records the sidecar of those complete and buys again "
                "only those broken (quoted here in case)"
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
            return self._convert_all(job, self._offline_pieces(job, inputs))
        if isinstance(job, DatabentoReferenceJob):
            return run_reference(self.ctx, job, self._api)
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
        result.warnings.extend(recorder.warnings)
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

    # ----- conversion: which file makes which outputs (the engine does the rest) ----------
    def _offline_inputs(self, job: DatabentoOfflineJob) -> list[Path]:
        if job.raw_dir is not None:
            root = self.ctx.resolve(job.raw_dir)
            # legacy .dbz files are listed too, so that each fails by name
            suffixes: tuple[str, ...] = DBN_SUFFIXES + LEGACY_SUFFIXES
            if job.reference_schema is not None:
                suffixes = JSONL_SUFFIXES
            found = [p for p in root.rglob("*") if p.name.endswith(suffixes)]
        else:
            found = find_path_inputs(self.ctx.resolve(job.path or ""))
        return sorted(p for p in found if p.is_file() and not p.name.startswith("."))

    def _require_inputs(self, job: DatabentoOfflineJob) -> None:
        found = self._offline_inputs(job)
        if job.raw_dir is not None:
            folder = self.ctx.resolve(job.raw_dir)
            kind = ".dbn or .dbn.zst files"
            if job.reference_schema is not None:
                kind = ".jsonl or .jsonl.zst files"
            require_folder_inputs(job.raw_dir, folder, found, kind)
        else:
            path = job.path or ""
            kind = "DBN file" if job.reference_schema is None else "JSON-lines file"
            require_path_inputs(path, self.ctx.resolve(path), found, kind)

    def _offline_pieces(
        self, job: DatabentoOfflineJob, inputs: Sequence[Path]
    ) -> list[tuple[Path, str]]:
        """Each input with the stem of its output's name."""
        base = self._offline_base(job)
        stem = relative_stem if job.reference_schema is None else reference_stem
        return [(path, stem(path, base)) for path in inputs]

    def _offline_base(self, job: DatabentoOfflineJob) -> Path:
        if job.raw_dir is not None:
            return self.ctx.resolve(job.raw_dir)
        return glob_base(self.ctx.resolve(job.path or ""))

    def _convert_all(
        self, job: DatabentoApiJob | DatabentoOfflineJob, inputs: Sequence[tuple[Path, str]]
    ) -> JobResult:
        """Convert every input on the engine; one bad file does not stop the others, and
        fails the job after they are written."""
        tasks, failures = self._tasks(job, inputs)

        def describe(found: Sequence[str], _: int) -> str:
            for text in found:
                log.error("%s: %s", job.name, text)
            return _failure_message([*failures, *found], len(inputs))

        result = run_convert_tasks(tasks, self.ctx, describe_failures=describe)
        if failures:  # files whose header cannot be read: reported with what the rest wrote
            raise JobFailedAfterWriting(_failure_message(failures, len(inputs)), result)
        return result

    def _tasks(
        self, job: DatabentoApiJob | DatabentoOfflineJob, inputs: Sequence[tuple[Path, str]]
    ) -> tuple[list[ConvertTask], list[str]]:
        """One task per input file (its outputs: the file's schema, or, for a mixed file,
        the schema=*/ outputs it made before), and the files whose header cannot be read."""
        if isinstance(job, DatabentoOfflineJob) and job.reference_schema is not None:
            return reference_tasks(self.ctx.data_dir, job, job.reference_schema, inputs), []
        tasks, failures = [], []
        root = ingested_root(self.ctx.data_dir, self.name, job.name)
        for src, stem in inputs:
            try:
                schema = read_dbn_metadata(src).schema
            except DbnFileError as exc:
                failures.append(str(exc))
                log.error("%s: %s", job.name, exc)
                continue
            known = (
                (output_path(self.ctx.data_dir, job.name, schema, stem),)
                if schema
                else tuple(sorted(root.glob(f"schema=*/{stem}.parquet")))
            )
            tasks.append(
                ConvertTask(
                    inputs=(src,),
                    output=known[0] if known else root / "schema=*" / f"{stem}.parquet",
                    converter=CONVERTER,
                    converter_version=CONVERTER_VERSION,
                    convert=None,
                    params={"price_type": job.price_type},
                    source=self.name,
                    job=job.name,
                    mode=job.mode,
                    query=job.model_dump(mode="json", by_alias=True),
                    extra={"price_type": job.price_type},
                    tools=TOOLS,
                    notes_when_current=notes_from_sidecar,
                    split=split_dbn_file,
                    output_for=partial(output_path, self.ctx.data_dir, job.name, stem=stem),
                    known_outputs=known,
                )
            )
        return tasks, failures


def _failure_message(failures: Sequence[str], inputs: int) -> str:
    """What the run and the dry run say about the files that failed."""
    more = " (and more, see the log)" if len(failures) > 1 else ""
    return f"{len(failures)} of {inputs} files failed: {failures[0]}{more}"


def _first_sentence(text: str) -> str:
    return text.split(". ", 1)[0]
