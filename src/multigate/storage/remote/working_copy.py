"""Keep a local working copy of a remote data folder in step with the bucket.

``pull`` brings the copy up to date with the bucket (the bucket is the truth: an object
that changed there replaces the local file; one deleted there goes locally, unless the
local file changed since the last synchronization, which means a run here made it and
stopped before uploading: it is kept and uploaded next time). A ledger changed both here
and in the bucket is merged, never replaced: a line is money spent. ``push`` uploads
every file a run changed and deletes what it removed.

A manifest (``.multigate-sync.json`` in the copy) records, for every file, the object's
ETag and size and the local file's size and mtime as they were when the two were last
the same: no file is hashed and no object read to tell what changed, and a run that
changed nothing uploads nothing.

Uploads are whole objects (S3 shows an object only once its upload completed, multipart
ones included), in an order that keeps the bucket consistent for readers: the ledger
first (money is recorded before anything else), then data files, then their sidecars,
then the catalog's and the snapshots' files, which refer to them. Deletions go data
before sidecar (a sidecar without its file counts as absent).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multigate.progress import Progress
from multigate.storage.layout import SIDECAR_SUFFIX
from multigate.storage.remote.location import STAGING_AREA, RemoteDataDir, RemoteDataDirError
from multigate.storage.remote.transfer_progress import transfer_line
from multigate.storage.run_lock import LOCK_NAME

MANIFEST_NAME = ".multigate-sync.json"
LEDGER_NAME = "ledger.jsonl"
_TEMP_MARKS = (".tmp-", ".paid-")

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


LOCAL_ONLY_FOLDERS = (f"{STAGING_AREA}/", "catalog/")
"""Never synchronized: the remote workers' staging area, and the catalog's index (each
copy's readers build their own from the snapshot records: a reader never changes what a
run uploads, and a run that changes nothing uploads nothing)."""


def synced_name(relative: str) -> bool:
    """Whether a file of the data folder is synchronized: not the lock, the manifest, the
    local-only folders, or a temporary file (a paid download being received stays local
    until it is verified and published)."""
    if relative in (LOCK_NAME, MANIFEST_NAME) or relative.startswith(LOCAL_ONLY_FOLDERS):
        return False
    name = relative.rsplit("/", 1)[-1]
    return not (name.startswith(".") and any(mark in name for mark in _TEMP_MARKS))


def inside_folder(relative: str) -> bool:
    """Whether ``relative`` names a file inside the data folder: no empty, ``.`` or ``..``
    part (an object named ``prefix/../x`` or ``prefix//x`` would land outside the working
    copy, wherever its name points)."""
    return all(part not in ("", ".", "..") for part in relative.split("/"))


def store_of(fs: Any) -> str | None:
    """The endpoint ``fs`` talks to, where it is set (MinIO, R2, a local S3): two stores
    may hold buckets of the same name, and a working copy belongs to one of them."""
    endpoint = getattr(fs, "endpoint_url", None)
    if endpoint is None:
        endpoint = (getattr(fs, "client_kwargs", None) or {}).get("endpoint_url")
    return str(endpoint).rstrip("/") if endpoint else None


class Manifest:
    """The copy's record of what it last shared with the bucket (of the store ``store``)."""

    def __init__(self, remote: RemoteDataDir, store: str | None) -> None:
        self._remote = remote
        self._store = store
        self._path = remote.cache_dir / MANIFEST_NAME
        self.files: dict[str, dict[str, Any]] = {}
        try:
            record = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("%s unreadable (%s): every file is compared again", self._path, exc)
            return
        if not isinstance(record, dict):
            log.warning("%s is not a manifest: every file is compared again", self._path)
            return
        url = record.get("url")
        if url != remote.url:
            raise RemoteDataDirError(
                f"{remote.cache_dir} is the working copy of {url}, not of {remote.url}: "
                "give this data folder its own cache_dir"
            )
        if "store" in record and record["store"] != store:
            raise RemoteDataDirError(
                f"{remote.cache_dir} is the working copy of {url} at the endpoint "
                f"{record['store'] or 'of AWS'}, not at {store or 'of AWS'}: check "
                "AWS_ENDPOINT_URL, or give this store's data folder its own cache_dir"
            )
        files = record.get("files")
        files = files if isinstance(files, dict) else {}
        self.files = {
            name: entry
            for name, entry in files.items()
            if inside_folder(name) and isinstance(entry, dict)
        }

    def unchanged(self, relative: str, local: Path) -> bool:
        """Whether ``local`` is as it was when last shared with the bucket."""
        entry = self.files.get(relative)
        if entry is None:
            return False
        stat = _stat(local)
        return stat is not None and [stat.st_size, stat.st_mtime_ns] == [
            entry.get("local_size"),
            entry.get("mtime_ns"),
        ]

    def record(self, relative: str, local: Path, etag: str | None, size: int) -> None:
        stat = local.stat()
        self.files[relative] = {
            "etag": etag,
            "size": size,
            "local_size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }

    def record_unsynced(self, relative: str, etag: str | None, size: int) -> None:
        """The bucket's object is known, but the local file holds more: it goes up next."""
        self.files[relative] = {"etag": etag, "size": size, "local_size": None, "mtime_ns": None}

    def save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(f"{MANIFEST_NAME}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        record = {
            "version": 1,
            "url": self._remote.url,
            "store": self._store,
            "files": self.files,
        }
        tmp.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._path)


def remote_listing(fs: Any, remote: RemoteDataDir) -> dict[str, dict[str, Any]]:
    """Every object of the data folder that belongs there, by path relative to it (none
    for an empty prefix). A missing bucket is an error, never an empty folder: a pull would
    delete the working copy's files."""
    fs.invalidate_cache()
    try:
        found = fs.find(remote.root, detail=True, withdirs=False)
    except FileNotFoundError:
        bucket = remote.root.split("/", 1)[0]
        if not fs.exists(bucket):
            raise RemoteDataDirError(
                f"{remote.url}: there is no bucket '{bucket}' (check its name, and the "
                "endpoint and region: AWS_ENDPOINT_URL, storage_options)"
            ) from None
        return {}
    prefix = remote.root + "/"
    listing = {}
    outside = []
    for name, info in found.items():
        if not name.startswith(prefix) or info.get("type") == "directory":
            continue
        relative = name[len(prefix) :]
        if not relative or relative.endswith("/") or not synced_name(relative):
            continue
        if inside_folder(relative):
            listing[relative] = info
        else:
            outside.append(relative)
    if outside:
        log.warning(
            "ignored %d object(s) of %s whose names lead outside it: %s",
            len(outside),
            remote.url,
            ", ".join(repr(name) for name in sorted(outside)[:5]),
        )
    return listing


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
        same_object = entry is not None and entry.get("etag") == _etag(info)
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
            _check_size(relative, tmp, _size(listing[relative]), remote)
            local = root / relative
            etag, size = _etag(listing[relative]), _size(listing[relative])
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
            report.bytes += _size(listing[relative])
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
        listing = _listing_of(fs, remote, changed)
        for rel in changed:
            info = listing.get(rel)
            if info is not None:
                manifest.record(rel, root / rel, _etag(info), _size(info))
    if changed or removed:
        manifest.save()
    return report


_ASKED_ONE_BY_ONE_AT_MOST = 32
_LISTED_FOLDERS_AT_MOST = 20


def _listing_of(fs: Any, remote: RemoteDataDir, names: Sequence[str]) -> dict[str, Any]:
    """The objects ``names`` (just uploaded: their ETags go in the manifest): asked for one
    by one when they are few, else found by listing only the folders that hold them (up
    to three levels deep: a job's folder), or the whole data folder when they are spread
    over many."""
    fs.invalidate_cache()
    if len(names) <= _ASKED_ONE_BY_ONE_AT_MOST:
        listing: dict[str, Any] = {}
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                listing[name] = fs.info(remote.key(name))
        return listing
    folders = sorted({"/".join(name.split("/")[:-1][:3]) for name in names})
    if len(folders) > _LISTED_FOLDERS_AT_MOST or "" in folders:
        return remote_listing(fs, remote)
    prefix = remote.root + "/"
    listing = {}
    for folder in folders:
        found = fs.find(remote.key(folder), detail=True, withdirs=False)
        for name, info in found.items():
            if name.startswith(prefix):
                listing[name[len(prefix) :]] = info
    return listing


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


def _etag(info: dict[str, Any]) -> str | None:
    etag = info.get("ETag") or info.get("etag") or info.get("md5")
    return str(etag) if etag is not None else None


def _size(info: dict[str, Any]) -> int:
    size = info.get("size", info.get("Size", 0))
    return int(size) if isinstance(size, int) else 0


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


class _TempNames:
    def __init__(self) -> None:
        self.made: list[Path] = []

    def beside(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
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
