"""Download missing chunks: one verified raw ``.dbn.zst`` per symbol per chunk, each with
its sidecar and ledger lines, within the approved budget.

Every ``get_range`` attempt (retries included) is written to the ledger before it is made.
An attempt that may have been billed (anything but an error status) counts at the chunk's
quoted price, and no attempt starts that could take the spend past ``max_cost_usd`` (or,
without a cap, past the approved total), so retries can never spend more than the user
agreed to; ``budget_usd`` also bounds the job's lifetime spend as the ledger shows it.

A download is received into a hidden ``.NAME.paid-PID-…`` file. Ctrl-C or SIGTERM leave it
there, and no sweep removes it: before quoting, the next run verifies a dead run's leftover
exactly as a fresh download is verified and keeps it as the chunk (ledger event
``recovered``), or deletes it when incomplete. A chunk that reached its final name but not
its sidecar (a kill in between) is verified and recorded the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from multigate.context import RunContext
from multigate.errors import GuardrailRefused, LocalWriteError
from multigate.sources.databento.api import DatabentoApi, IncompleteDownload
from multigate.sources.databento.config import DatabentoApiJob
from multigate.sources.databento.dbn_info import read_dbn_metadata
from multigate.sources.databento.dbn_verify import verify_dbn_file
from multigate.sources.databento.errors import DbnFileError
from multigate.stop import raise_if_stopped
from multigate.storage.atomic import leftover_paid_temps, paid_temp_name_for, publish
from multigate.storage.chunks_on_disk import FETCHED_AT
from multigate.storage.hashing import sha256_of
from multigate.storage.ledger import append_ledger
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    digest_file,
    digest_file_as,
    digest_name,
    package_versions,
    read_sidecar,
    write_sidecar,
)

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TOOLS = ("multigate", "databento", "databento-dbn", "pyarrow", "numpy")


@dataclass(frozen=True)
class PlannedChunk:
    """One (symbol, chunk) download: where it goes, what is asked, what it was quoted
    (None: the vendor's answer, kept in ``unknown_quote``, was not a price)."""

    path: Path
    request: dict[str, str]
    quote_usd: float | None
    unknown_quote: str | None = None


def total_quote(chunks: Sequence[PlannedChunk]) -> float | None:
    """The sum of the quotes, or None (cost unknown) when any of them is not a price."""
    quotes = [chunk.quote_usd for chunk in chunks]
    return None if any(q is None for q in quotes) else sum(q or 0.0 for q in quotes)


def unknown_quote_notes(chunks: Sequence[PlannedChunk]) -> list[str]:
    unknown = [chunk for chunk in chunks if chunk.quote_usd is None]
    if not unknown:
        return []
    first = unknown[0]
    return [
        f"cost unknown: {len(unknown)} of {len(chunks)} quote(s) were not a price (the one "
        f"for {first.request['symbols']} {first.request['start']} was not a price: "
        f"{first.unknown_quote})"
    ]


class ChunkDownloader:
    def __init__(
        self,
        api: DatabentoApi | None,
        job: DatabentoApiJob,
        ctx: RunContext,
        ledger: Path,
        gateway: str | None,
        *,
        approved_usd: float | None = 0.0,
        billed_before_usd: float | None = None,
    ) -> None:
        self._api = api
        self._job = job
        self._ctx = ctx
        self._ledger = ledger
        self._gateway = gateway
        # Retries may be billed too: spending stops at the cap, or without a cap at what
        # the user approved (no limit only when the cost was unknown and no guardrail is
        # set), and within what budget_usd leaves of the job's lifetime spend. Attempts
        # answered with an error status streamed nothing and are free.
        self._limits: list[tuple[float, str]] = []
        if job.max_cost_usd is not None:
            self._limits.append((job.max_cost_usd, f"max_cost_usd ${job.max_cost_usd:,.4f}"))
        elif approved_usd is not None:
            self._limits.append((approved_usd, f"the approved total ${approved_usd:,.4f}"))
        if job.budget_usd is not None:
            left = job.budget_usd - (billed_before_usd or 0.0)
            self._limits.append(
                (left, f"what budget_usd ${job.budget_usd:,.4f} leaves (${left:,.4f})")
            )
        self._spent_usd = 0.0
        self._downloaded = 0
        self.warnings: list[str] = []

    def download_all(self, chunks: Sequence[PlannedChunk]) -> int:
        """Download every chunk in order; return how many files were written."""
        with self._ctx.progress.task(f"{self._job.name}: download", total=len(chunks)) as task:
            for chunk in chunks:
                self._download(chunk)
                self._downloaded += 1
                task.advance()
        return len(chunks)

    def _download(self, chunk: PlannedChunk) -> None:
        job, request = self._job, chunk.request

        def before_attempt(attempt: int) -> None:
            raise_if_stopped()
            self._check_limits(chunk, attempt)
            try:
                append_ledger(
                    self._ledger,
                    "attempt",
                    {"job": job.name, "attempt": attempt, "usd": chunk.quote_usd, **request},
                    at=self._ctx.now(),
                )
            except OSError as exc:  # an attempt the ledger does not show is never made
                raise LocalWriteError(
                    f"cannot record attempt {attempt} at {request['symbols']} "
                    f"{request['start']} in the ledger {self._ledger}: {exc}; the paid call "
                    "was not made. Make room (or fix the permissions) and re-run."
                ) from None

        def after_attempt(billable: bool, complete: bool) -> None:
            if billable:
                self._spent_usd += chunk.quote_usd or 0.0
            if not complete:
                append_ledger(
                    self._ledger,
                    "attempt_failed",
                    {"job": job.name, "billable": billable, "usd": chunk.quote_usd, **request},
                    at=self._ctx.now(),
                )

        assert self._api is not None, "downloads need an API client"
        fetched_at = self._ctx.now()
        chunk.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = paid_temp_name_for(chunk.path)
        try:
            self._api.download(
                request,
                tmp,
                _verify_download,
                before_attempt=before_attempt,
                after_attempt=after_attempt,
            )
            raise_if_stopped()
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the bytes may be paid for, keep them
            if tmp.exists():
                log.warning("kept %s for the next run to verify (it may be paid for)", tmp)
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._keep(chunk.path, request, tmp, fetched_at, event="download")

    def _keep(
        self, path: Path, request: dict[str, str], tmp: Path, fetched_at: datetime, *, event: str
    ) -> None:
        """Put the verified download ``tmp`` in place at ``path`` (sidecar first), then its
        ledger line. Stopped midway, ``tmp`` is verified and kept by the next run."""
        digest = digest_file_as(tmp, path, relative_to=self._ctx.data_dir)
        provenance = self.describe(request, digest, tmp, fetched_at)
        # The sidecar goes in place first, so ``path`` is never seen without it; stopped
        # between the two, the sidecar describes a missing file (absent to every check) and
        # the paid ``tmp`` is recovered by the next run.
        write_sidecar(path, provenance, created_at=self._ctx.now())
        publish(tmp, path, sidecar_written=True)
        append_ledger(
            self._ledger,
            event,
            {"job": self._job.name, "bytes": digest.bytes, "sha256": digest.sha256, **request},
            at=self._ctx.now(),
        )
        log.debug("%s %s (%d bytes)", event, path, digest.bytes)

    def _check_limits(self, chunk: PlannedChunk, attempt: int) -> None:
        """Refuse an attempt that could take the spend past a limit."""
        request = chunk.request
        for limit, name in self._limits:
            if chunk.quote_usd is None:
                over = f"its cost is unknown, so {name} cannot be checked"
            elif self._spent_usd + chunk.quote_usd > limit + 1e-9:
                over = (
                    f"it could take the spend to ${self._spent_usd + chunk.quote_usd:,.4f}, "
                    f"over {name}"
                )
            else:
                continue
            raise GuardrailRefused(
                f"stopped before attempt {attempt} at {request['symbols']} {request['start']}: "
                f"{over}. Spent so far: ${self._spent_usd:,.4f} on {self._downloaded} "
                "chunk(s), kept and never paid for again; re-run to resume"
            )

    def describe(
        self, request: dict[str, str], digest: FileDigest, file: Path, fetched_at: datetime
    ) -> Provenance:
        job = self._job
        info = read_dbn_metadata(file)
        if info.not_found:
            warning = f"Databento did not find {', '.join(info.not_found)} in {job.dataset}"
            self.warnings.append(warning)
            log.warning("%s: %s", job.name, warning)
        return Provenance(
            kind="raw",
            source="databento",
            job=job.name,
            mode=job.mode,
            query={**request, "gateway": self._gateway or "default"},
            vendor={
                "vendor": "Databento",
                "dataset": job.dataset,
                "schema": job.schema_,
                "stype_in": job.stype_in,
                "dbn_version": info.version,
                "not_found": info.not_found,
            },
            file=digest,
            fingerprint=digest.sha256,
            first_ts=request["start"],
            last_ts=request["end"],
            symbols=[request["symbols"]],
            tools=package_versions(TOOLS),
            extra={FETCHED_AT: fetched_at.isoformat()},
        )

    def recover(self, path: Path, request: dict[str, str]) -> bool:
        """Keep what earlier runs received for ``path`` instead of buying it again: a chunk
        that reached its name but not its sidecar, or a dead run's leftover download that
        decodes completely and answers ``request``. Incomplete leftovers are deleted.
        Return whether the chunk is now stored."""
        stored = self._record_unrecorded(path, request) or self._repair_record(path, request)
        for leftover in leftover_paid_temps(path):
            if not stored and self._answers(leftover, request):
                fetched_at = datetime.fromtimestamp(leftover.stat().st_mtime, UTC)
                self._keep(path, request, leftover, fetched_at, event="recovered")
                log.info("kept %s, received by an interrupted run: verified complete", path)
                stored = True
                continue
            reason = "already stored" if stored else "incomplete or not this chunk"
            log.info("removed %s, left by an interrupted run (%s)", leftover, reason)
            leftover.unlink(missing_ok=True)
        return stored

    def _record_unrecorded(self, path: Path, request: dict[str, str]) -> bool:
        """Record a complete chunk that lost only its sidecar (killed between the two)."""
        if not path.is_file() or read_sidecar(path) is not None:
            return False
        if not self._answers(path, request):
            return False
        fetched_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        digest = digest_file(path, relative_to=self._ctx.data_dir)
        write_sidecar(
            path, self.describe(request, digest, path, fetched_at), created_at=self._ctx.now()
        )
        log.info("recorded %s, downloaded earlier but left without its sidecar", path)
        return True

    def _repair_record(self, path: Path, request: dict[str, str]) -> bool:
        """A paid chunk whose sidecar's sha256 does not match its bytes (a hand edit, a
        bit flip in either): bytes that decode completely as the answer to ``request`` are
        kept and the sidecar re-recorded for them; anything else is bought again. Either
        way the run's warnings say so. Return whether the chunk is now stored."""
        record = read_sidecar(path)
        if record is None or not path.is_file():
            return False
        recorded = (record.get("file") or {}).get("sha256")
        actual = sha256_of(path)
        if recorded == actual:
            return False  # matching (a chunk fetched too early is bought again, by design)
        name = digest_name(path, self._ctx.data_dir)
        problem = self._problem(path, request)
        if problem is not None:
            self._warn(
                f"{name} does not match the sha256 its sidecar records and its bytes are "
                f"broken ({problem}), so it is bought again"
            )
            return False
        fetched_at = _fetched_at(record) or datetime.fromtimestamp(path.stat().st_mtime, UTC)
        digest = digest_file(path, relative_to=self._ctx.data_dir)
        write_sidecar(
            path, self.describe(request, digest, path, fetched_at), created_at=self._ctx.now()
        )
        self._warn(
            f"{name} did not match the sha256 its sidecar records ({str(recorded)[:12]}…), "
            f"but its bytes decode completely as this chunk: the sidecar was re-recorded "
            f"with sha256 {actual[:12]}…, and nothing was bought again"
        )
        return True

    def _warn(self, warning: str) -> None:
        self.warnings.append(warning)
        log.warning("%s: %s", self._job.name, warning)

    def _answers(self, file: Path, request: dict[str, str]) -> bool:
        return self._problem(file, request) is None

    def _problem(self, file: Path, request: dict[str, str]) -> str | None:
        """None when ``file`` decodes completely (as a fresh download is checked) and its
        header is the answer to ``request`` (same dataset, schema and start), else why not."""
        try:
            verify_dbn_file(file)
            info = read_dbn_metadata(file)
        except DbnFileError as exc:
            log.debug("%s does not verify: %s", file, exc)
            return f"it does not decode: {exc.reason}"
        start = (datetime.fromisoformat(request["start"]) - EPOCH) // timedelta(microseconds=1)
        header = (info.dataset, info.schema, info.start)
        if header != (self._job.dataset, self._job.schema_, start * 1000):
            return f"its header is not this chunk's: {header}"
        return None


def sidecar_disagrees(path: Path) -> bool:
    """Whether ``path`` and its sidecar both exist but the recorded sha256 is not the
    bytes' (the run checks the bytes before buying such a chunk again)."""
    record = read_sidecar(path)
    if record is None or not path.is_file():
        return False
    return (record.get("file") or {}).get("sha256") != sha256_of(path)


def _fetched_at(record: dict[str, object]) -> datetime | None:
    """When the sidecar says the chunk was fetched, if it says so readably."""
    extra = record.get("extra")
    value = extra.get(FETCHED_AT) if isinstance(extra, dict) else None
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _verify_download(path: Path) -> None:
    try:
        verify_dbn_file(path)
    except DbnFileError as exc:
        raise IncompleteDownload(str(exc)) from None
