"""Download missing chunks: one verified raw ``.dbn.zst`` per symbol per chunk, each with
its sidecar and ledger lines, within the approved budget.

Every ``get_range`` attempt (retries included) is written to the ledger before it is made.
An attempt that may have been billed (anything but an error status) counts at the chunk's
quoted price, and no attempt starts that could take the spend past ``max_cost_usd`` (or,
without a cap, past the approved total), so retries can never spend more than the user
agreed to. A chunk that reached its final name but not its sidecar (a kill in between, or
Ctrl-C while it was being checked) is verified and recorded instead of being bought again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from multigate.context import RunContext
from multigate.errors import GuardrailRefused
from multigate.sources.databento.api import DatabentoApi, IncompleteDownload
from multigate.sources.databento.config import DatabentoApiJob
from multigate.sources.databento.dbn_info import read_dbn_metadata
from multigate.sources.databento.dbn_verify import verify_dbn_file
from multigate.sources.databento.errors import DbnFileError
from multigate.storage.atomic import atomic_path
from multigate.storage.chunks_on_disk import FETCHED_AT
from multigate.storage.ledger import append_ledger
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    package_versions,
    read_sidecar,
    remove_sidecar,
    sha256_of,
    write_sidecar,
)

log = logging.getLogger(__name__)

TOOLS = ("multigate", "databento", "databento-dbn", "pyarrow", "numpy")


@dataclass(frozen=True)
class PlannedChunk:
    """One (symbol, chunk) download: where it goes, what is asked, what it was quoted."""

    path: Path
    request: dict[str, str]
    quote_usd: float


class ChunkDownloader:
    def __init__(
        self,
        api: DatabentoApi | None,
        job: DatabentoApiJob,
        ctx: RunContext,
        ledger: Path,
        gateway: str | None,
        *,
        approved_usd: float = 0.0,
    ) -> None:
        self._api = api
        self._job = job
        self._ctx = ctx
        self._ledger = ledger
        self._gateway = gateway
        # Retries may be billed too: spending stops at the cap, or without a cap at what
        # the user approved. Attempts answered with an error status streamed nothing and are free.
        self._budget_usd = job.max_cost_usd if job.max_cost_usd is not None else approved_usd
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
        received = False

        def before_attempt(attempt: int) -> None:
            if self._spent_usd + chunk.quote_usd > self._budget_usd + 1e-9:
                limit = "max_cost_usd" if job.max_cost_usd is not None else "the approved total"
                raise GuardrailRefused(
                    f"stopped before attempt {attempt} at {request['symbols']} "
                    f"{request['start']}: it could take the spend to "
                    f"${self._spent_usd + chunk.quote_usd:,.4f}, over {limit} "
                    f"${self._budget_usd:,.4f}. Spent so far: ${self._spent_usd:,.4f} on "
                    f"{self._downloaded} chunk(s), kept and never paid for again; re-run to "
                    "resume"
                )
            append_ledger(
                self._ledger,
                "attempt",
                {"job": job.name, "attempt": attempt, "usd": chunk.quote_usd, **request},
                at=self._ctx.now(),
            )

        def after_attempt(billable: bool, complete: bool) -> None:
            nonlocal received
            if billable:
                self._spent_usd += chunk.quote_usd
            received = complete
            if not complete:
                append_ledger(
                    self._ledger,
                    "attempt_failed",
                    {"job": job.name, "billable": billable, **request},
                    at=self._ctx.now(),
                )

        assert self._api is not None, "downloads need an API client"
        fetched_at = self._ctx.now()
        relative = str(chunk.path.relative_to(self._ctx.data_dir))
        with atomic_path(chunk.path, sidecar_written=True) as tmp:
            try:
                self._api.download(
                    request,
                    tmp,
                    _verify_download,
                    before_attempt=before_attempt,
                    after_attempt=after_attempt,
                )
            except KeyboardInterrupt:
                if received and tmp.exists():  # paid for: keep it; the next run verifies it
                    remove_sidecar(chunk.path)
                    os.replace(tmp, chunk.path)
                raise
            digest = FileDigest(relative, sha256_of(tmp), tmp.stat().st_size)
            provenance = self.describe(request, digest, tmp, fetched_at)
            write_sidecar(chunk.path, provenance, created_at=fetched_at)  # before the move
        append_ledger(
            self._ledger,
            "download",
            {"job": job.name, "bytes": digest.bytes, "sha256": digest.sha256, **request},
            at=fetched_at,
        )
        log.debug("downloaded %s (%d bytes)", chunk.path, digest.bytes)

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

    def recover_unrecorded(self, path: Path, request: dict[str, str]) -> bool:
        """Record a complete chunk that lost only its sidecar (killed between the two)."""
        if not path.is_file() or read_sidecar(path) is not None:
            return False
        try:
            verify_dbn_file(path)
            info = read_dbn_metadata(path)
        except DbnFileError:
            return False
        if (info.dataset, info.schema) != (self._job.dataset, self._job.schema_):
            return False
        fetched_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        digest = FileDigest(
            str(path.relative_to(self._ctx.data_dir)), sha256_of(path), path.stat().st_size
        )
        write_sidecar(
            path, self.describe(request, digest, path, fetched_at), created_at=self._ctx.now()
        )
        log.info("recorded %s, downloaded earlier but left without its sidecar", path)
        return True


def _verify_download(path: Path) -> None:
    try:
        verify_dbn_file(path)
    except DbnFileError as exc:
        raise IncompleteDownload(str(exc)) from None
