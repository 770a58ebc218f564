"""Put a finished file in place with its sidecar, or skip it when it is already current."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from multigate.storage.atomic import atomic_path
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    digest_file,
    is_current,
    read_sidecar,
    remove_sidecar,
    write_sidecar,
)
from multigate.storage.snapshots import keep_for_snapshots


def publish_file(
    path: Path,
    write: Callable[[Path], None],
    describe: Callable[[FileDigest], Provenance],
    *,
    data_dir: Path,
    now: datetime | None = None,
) -> FileDigest:
    """Run ``write(tmp)``, move the result to ``path`` atomically, then write its sidecar.

    ``describe`` receives the finished file's digest and returns its provenance.
    """
    with atomic_path(path) as tmp:
        write(tmp)
    digest = digest_file(path, relative_to=data_dir)
    write_sidecar(path, describe(digest), created_at=now)
    return digest


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
    the job no longer has. Files without such a sidecar are never touched; bytes a snapshot
    may hold are kept in the snapshot store first. Returns what was removed."""
    wanted = {path.resolve() for path in keep}
    removed = []
    if folder.is_dir():
        for path in sorted(folder.rglob("*.parquet")):
            if path.resolve() in wanted:
                continue
            record = read_sidecar(path) or {}
            ours = (record.get("kind"), record.get("source"), record.get("job")) == (
                "ingested",
                source,
                job,
            )
            if ours:
                keep_for_snapshots(path)
                remove_sidecar(path)
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
