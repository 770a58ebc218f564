"""Keep a local working copy of a remote data folder in step with the bucket.

``pull`` brings the copy up to date with the bucket (the bucket is the truth: an object
that changed there replaces the local file; one deleted there goes locally, unless the
local file changed since the last synchronization, which means a run here made it and
stopped before uploading: it is kept and uploaded next time). A ledger changed both here
and in the bucket is merged, never replaced: a line is money spent. ``push`` uploads
every file a run changed and deletes what it removed.

A manifest (``sync_manifest``: ``.multigate-sync.json`` in the copy) records, for every
file, the object's ETag and size and the local file's size and mtime as they were when
the two were last the same: no file is hashed and no object read to tell what changed,
and a run that changed nothing uploads nothing.

Uploads are whole objects (S3 shows an object only once its upload completed, multipart
ones included), in an order that keeps the bucket consistent for readers: the ledger
first (money is recorded before anything else), then data files, then their sidecars,
then the snapshot records, which refer to them. Deletions go data
before sidecar (a sidecar without its file counts as absent).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multigate.progress import Progress
from multigate.storage.atomic import temp_name_for
from multigate.storage.layout import SIDECAR_SUFFIX
from multigate.storage.remote.bucket_listing import (
    etag_of,
    listing_of,
    remote_listing,
    size_of,
    synced_name,
)
from multigate.storage.remote.location import RemoteDataDir, RemoteDataDirError
from multigate.storage.remote.sync_manifest import Manifest, store_of
from multigate.storage.remote.transfer_progress import transfer_line

LEDGER_NAME = "ledger.jsonl"

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one pull or push moved."""

    files: int = 0
    bytes: int = 0
    deleted: int = 0
    kept_local: list[str] = field(default_factory=list)
    """Files made here and never uploaded (a run stopped before its upload)."""
    restored: list[str] = field(default_factory=list)
    """Paid files the bucket lost and this copy holds: uploaded again, never deleted."""


def pull(
    fs: Any,
    remote: RemoteDataDir,
    progress: Progress | None = None,
    only: tuple[str, ...] | None = None,
) -> SyncReport:
    """Bring the working copy up to date with the bucket (files fetched are counted on
    ``progress``). With ``only`` (folders and files relative to the data folder, ``/``
    ending a folder), what the bucket holds elsewhere is not fetched: a run of one job
    does not fetch the whole lake. What is not fetched is not in the manifest (or stays
    as it was there), so a push never takes it for deleted here."""
    root = remote.cache_dir
    root.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(remote, store_of(fs))
    listing = remote_listing(fs, remote)
    report = SyncReport()
    wanted = []
    for relative, info in sorted(listing.items()):
        if only is not None and not relative.startswith(only):
            continue
        local = root / relative
        entry = manifest.files.get(relative)
        same_object = entry is not None and entry.get("etag") == etag_of(info)
        if same_object and manifest.unchanged(relative, local):
            continue
        if same_object and local.is_file():
            report.kept_local.append(relative)  # changed here since: uploaded at the push
            continue
        wanted.append(relative)
    with _temps() as temps:
        pairs = [(relative, temps.beside(root / relative)) for relative in wanted]
        gone = _fetch(fs, remote, pairs, progress)
        for relative, tmp in pairs:
            if relative in gone:
                continue
            _check_size(relative, tmp, size_of(listing[relative]), remote)
            local = root / relative
            etag, size = etag_of(listing[relative]), size_of(listing[relative])
            changed_here = local.is_file() and not manifest.unchanged(relative, local)
            merged = changed_here and _is_ledger(relative) and _merge_ledger(tmp, local)
            if merged:
                report.kept_local.append(relative)
            os.replace(tmp, local)
            if merged:
                manifest.record_unsynced(relative, etag, size)
            else:
                manifest.record(relative, local, etag, size)
            report.files += 1
            report.bytes += size_of(listing[relative])
    for relative in sorted(set(manifest.files) - set(listing)):
        local = root / relative
        if local.is_file() and not manifest.unchanged(relative, local):
            report.kept_local.append(relative)
            continue
        if local.is_file() and relative.startswith(remote.kept_when_lost):
            report.restored.append(relative)
            manifest.record_unsynced(relative, None, 0)
            continue
        with contextlib.suppress(FileNotFoundError):
            local.unlink()  # deleted in the bucket since the last synchronization
        del manifest.files[relative]
        report.deleted += 1
    manifest.save()
    return report


def _is_ledger(relative: str) -> bool:
    return relative.rsplit("/", 1)[-1] == LEDGER_NAME


def _merge_ledger(fetched: Path, local: Path) -> bool:
    """Append to the bucket's ledger (``fetched``) the lines of the local one it lacks (a
    run here recorded them and could not upload them; the bucket's changed meanwhile).
    Return whether any was added. A torn last line, on either side, is dropped."""
    try:
        mine = local.read_bytes().splitlines(keepends=True)
    except FileNotFoundError:
        return False
    theirs = fetched.read_bytes()
    if theirs and not theirs.endswith(b"\n"):
        theirs = theirs[: theirs.rfind(b"\n") + 1]
    known = Counter(theirs.splitlines(keepends=True))
    missing = []
    for line in mine:
        if not line.endswith(b"\n") or not line.strip():
            continue
        if known[line]:
            known[line] -= 1
        else:
            missing.append(line)
    if missing:
        fetched.write_bytes(theirs + b"".join(missing))
    return bool(missing)


def _fetch(
    fs: Any, remote: RemoteDataDir, pairs: list[tuple[str, Path]], progress: Progress | None
) -> set[str]:
    """Download each object to its temporary file, all at once; return those deleted in
    the bucket since it was listed (a run at work there: the next pull settles them)."""
    if not pairs:
        return set()
    try:
        with transfer_line(progress, f"fetch from {remote.url}", len(pairs)) as line:
            keys = [remote.key(rel) for rel, _ in pairs]
            fs.get(keys, [str(tmp) for _, tmp in pairs], callback=line.batch())
        return set()
    except FileNotFoundError:
        pass
    gone = set()
    for relative, tmp in pairs:
        try:
            fs.get_file(remote.key(relative), str(tmp))
        except FileNotFoundError:
            gone.add(relative)
    return gone


def _check_size(relative: str, tmp: Path, listed: int, remote: RemoteDataDir) -> None:
    """A download that is not the listed size (cut short, or replaced meanwhile) never
    becomes the working copy's file: a paid raw file that looked damaged would be bought
    again."""
    got = tmp.stat().st_size
    if got != listed:
        raise RemoteDataDirError(
            f"{remote.url}/{relative} arrived with {got} bytes, the bucket lists {listed}: "
            "nothing was changed in the working copy; run again"
        )


def push(fs: Any, remote: RemoteDataDir, progress: Progress | None = None) -> SyncReport:
    """Upload what changed in the working copy since the last synchronization, and delete
    from the bucket what was removed here (files uploaded are counted on ``progress``)."""
    root = remote.cache_dir
    manifest = Manifest(remote, store_of(fs))
    local_files = set(_local_files(root))
    changed = sorted(rel for rel in local_files if not manifest.unchanged(rel, root / rel))
    removed = sorted(set(manifest.files) - local_files)
    report = SyncReport()
    with transfer_line(progress, f"upload to {remote.url}", len(changed)) as line:
        for batch in _ranked(changed, _upload_rank):
            keys = [remote.key(rel) for rel in batch]
            fs.put([str(root / rel) for rel in batch], keys, callback=line.batch())
            report.files += len(batch)
            report.bytes += sum((root / rel).stat().st_size for rel in batch)
    for batch in _ranked(removed, _delete_rank):
        with contextlib.suppress(FileNotFoundError):
            fs.rm([remote.key(rel) for rel in batch])
        for rel in batch:
            del manifest.files[rel]
        report.deleted += len(batch)
    if changed:
        listing = listing_of(fs, remote, changed)
        for rel in changed:
            info = listing.get(rel)
            if info is not None:
                manifest.record(rel, root / rel, etag_of(info), size_of(info))
    if changed or removed:
        manifest.save()
    return report


def _local_files(root: Path) -> Iterator[str]:
    for folder, _, names in os.walk(root):
        base = Path(folder).relative_to(root)
        for name in names:
            relative = (base / name).as_posix()
            if synced_name(relative) and not (Path(folder) / name).is_symlink():
                yield relative


def _upload_rank(relative: str) -> int:
    if _is_ledger(relative):
        return 0
    if relative.split("/", 1)[0] in ("raw", "ingested"):
        return 2 if relative.endswith(SIDECAR_SUFFIX) else 1
    return 3


def _delete_rank(relative: str) -> int:
    if relative.split("/", 1)[0] in ("raw", "ingested"):
        return 1 if relative.endswith(SIDECAR_SUFFIX) else 0
    return 2


def _ranked(names: Iterable[str], rank: Any) -> list[list[str]]:
    batches: dict[int, list[str]] = {}
    for name in names:
        batches.setdefault(rank(name), []).append(name)
    return [batches[key] for key in sorted(batches)]


class _TempNames:
    def __init__(self) -> None:
        self.made: list[Path] = []

    def beside(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name_for(path)
        self.made.append(tmp)
        return tmp


@contextlib.contextmanager
def _temps() -> Iterator[_TempNames]:
    names = _TempNames()
    try:
        yield names
    finally:
        for tmp in names.made:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
