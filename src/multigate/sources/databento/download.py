"""Download missing chunks: one verified raw ``.dbn.zst`` per symbol per chunk, each with
its sidecar and ledger lines, within the approved budget.

Every ``get_range`` attempt (retries included) is written to the ledger before it is made
and counted against ``max_cost_usd`` at the chunk's quoted price, so retries can never
spend more than the cap. A chunk that reached its final name but not its sidecar (a kill
in between) is recognised, verified and recorded instead of being bought again.
"""

from __future__ import annotations

import logging
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
    ) -> None:
        self._api = api
        self._job = job
        self._ctx = ctx
        self._ledger = ledger
        self._gateway = gateway
        self._committed_usd = 0.0
        self.warnings: list[str] = []

    def download_all(self, chunks: Sequence[PlannedChunk]) -> int:
        """Download every chunk in order; return how many files were written."""
        with self._ctx.progress.task(f"{self._job.name}: download", total=len(chunks)) as task:
            for chunk in chunks:
                self._download(chunk)
                task.advance()
        return len(chunks)

    def _download(self, chunk: PlannedChunk) -> None:
        job, request = self._job, chunk.request

        def before_attempt(attempt: int) -> None:
            self._committed_usd += chunk.quote_usd
            cap = job.max_cost_usd
            if cap is not None and self._committed_usd > cap + 1e-9:
                raise GuardrailRefused(
                    f"retrying {request['symbols']} {request['start']} would take the spend "
                    f"up to ${self._committed_usd:,.4f}, over max_cost_usd ${cap:,.4f}"
                )
            append_ledger(
                self._ledger,
                "attempt",
                {"job": job.name, "attempt": attempt, "usd": chunk.quote_usd, **request},
                at=self._ctx.now(),
            )

        assert self._api is not None, "downloads need an API client"
        fetched_at = self._ctx.now()
        relative = str(chunk.path.relative_to(self._ctx.data_dir))
        provenance: Provenance | None = None
        with atomic_path(chunk.path, before_replace=lambda: remove_sidecar(chunk.path)) as tmp:
            self._api.download(request, tmp, _verify_download, before_attempt=before_attempt)
            digest = FileDigest(relative, sha256_of(tmp), tmp.stat().st_size)
            provenance = self.describe(request, digest, tmp, fetched_at)
        write_sidecar(chunk.path, provenance, created_at=fetched_at)
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
