"""Put a finished file in place with its sidecar, or skip it when it is already current."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from multigate.quality.ingest_hook import with_quality
from multigate.storage.atomic import atomic_path
from multigate.storage.layout import SIDECAR_SUFFIX
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    digest_file,
    digest_file_as,
    is_current,
    read_sidecar,
    remove_sidecar,
    sidecar_owner,
    write_sidecar,
)


def publish_file(
    path: Path,
    write: Callable[[Path], object],
    describe: Callable[[FileDigest], Provenance],
    *,
    data_dir: Path,
    now: datetime | None = None,
    measure: Callable[[Path], FileDigest] | None = None,
) -> FileDigest:
    """Run ``write(tmp)``, write ``path``'s sidecar for those bytes, then move them to
    ``path`` atomically: ``path`` is never seen without its sidecar.

    ``describe`` receives the finished file's digest and returns its provenance; an
    ingested Parquet output gets its quality checks (``quality``) before the sidecar is
    written. Rows are never dropped. ``measure(tmp)`` gives the digest when the writer
    knows it already (default: ``tmp`` is hashed).
    """
    with atomic_path(path, sidecar_written=True) as tmp:
        write(tmp)
        if measure is not None:
            digest = measure(tmp)
        else:
            digest = digest_file_as(tmp, path, relative_to=data_dir)
        write_output_sidecar(path, describe(digest), created_at=now, written=tmp)
    return digest


def write_output_sidecar(
    path: Path,
    provenance: Provenance,
    created_at: datetime | None = None,
    *,
    written: Path | None = None,
) -> Path:
    """Write the sidecar of a finished file; an ingested Parquet output gets its quality
    checks (``provenance.quality``) first, read from ``written`` (where the new bytes are,
    when the sidecar goes first) or else from ``path``."""
    checked = with_quality(written or path, provenance)
    return write_sidecar(path, checked, created_at=created_at)


def publish_bytes_if_changed(
    path: Path,
    data: bytes,
    describe: Callable[[FileDigest], Provenance],
    *,
    data_dir: Path,
    now: datetime | None = None,
) -> tuple[FileDigest, bool]:
    """Store downloaded bytes unless ``path`` already holds exactly them with a sidecar.

    Returns the digest and whether anything was written.
    """
    if path.is_file() and read_sidecar(path) is not None:
        stored = digest_file(path, relative_to=data_dir)
        if stored.sha256 == hashlib.sha256(data).hexdigest():
            return stored, False
    digest = publish_file(
        path, lambda tmp: tmp.write_bytes(data), describe, data_dir=data_dir, now=now
    )
    return digest, True


def output_is_current(path: Path, fingerprint: str, *, force: bool) -> bool:
    """True when ``path`` can be kept as it is (never under ``--force``)."""
    return not force and is_current(path, fingerprint)


def prune_stale_outputs(folder: Path, keep: Iterable[Path], *, source: str, job: str) -> list[Path]:
    """Remove Parquet files (and their sidecars) under ``folder`` that are not in ``keep``
    and that this job wrote (their sidecar says so): outputs of inputs, symbols or chunks
    the job no longer has. Files without such a sidecar are never touched; a sidecar of
    this job whose file is missing (a run stopped between the two) goes too. The table's
    past versions keep their bytes under their own names. Returns the data files removed."""
    wanted = {path.resolve() for path in keep}
    removed = []
    if folder.is_dir():
        for path in sorted(folder.rglob("*.parquet")):
            if path.resolve() in wanted:
                continue
            if retract_output(path, source=source, job=job):
                removed.append(path)
        for sidecar in sorted(folder.rglob(f"*.parquet{SIDECAR_SUFFIX}")):
            path = sidecar.with_name(sidecar.name.removesuffix(SIDECAR_SUFFIX))
            if (
                not path.exists()
                and path.resolve() not in wanted
                and _written_by(path, source, job)
            ):
                remove_sidecar(path)
    return removed


def retract_output(path: Path, *, source: str, job: str) -> bool:
    """Remove the ingested output ``path`` and its sidecar if this job wrote it (its sidecar
    says so). Returns whether it was removed.
    The one rule for taking an output back, whether stale or made from failed inputs."""
    if not _written_by(path, source, job):
        return False
    path.unlink(missing_ok=True)  # the file first: a sidecar without its file counts as absent
    remove_sidecar(path)
    return True


def job_outputs(folder: Path, *, source: str, job: str) -> list[Path]:
    """The Parquet files under ``folder`` that this job wrote (their sidecar says so)."""
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.rglob("*.parquet")) if _written_by(path, source, job)]


def _written_by(path: Path, source: str, job: str) -> bool:
    return sidecar_owner(path) == ("ingested", source, job)
