"""What of a remote data folder is synchronized, and listing its objects."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from multigate.storage.atomic import is_temporary_name
from multigate.storage.remote.location import (
    MANIFEST_NAME,
    STAGING_AREA,
    RemoteDataDir,
    RemoteDataDirError,
)
from multigate.storage.run_lock import LOCK_NAME

log = logging.getLogger(__name__)


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
    return not is_temporary_name(relative.rsplit("/", 1)[-1])


def inside_folder(relative: str) -> bool:
    """Whether ``relative`` names a file inside the data folder: no empty, ``.`` or ``..``
    part (an object named ``prefix/../x`` or ``prefix//x`` would land outside the working
    copy, wherever its name points)."""
    return all(part not in ("", ".", "..") for part in relative.split("/"))


def raise_if_no_bucket(fs: Any, remote: RemoteDataDir) -> None:
    """RemoteDataDirError when ``remote``'s bucket does not exist, worded one way for every
    command (a reader's listing, a run's lock)."""
    bucket = remote.root.split("/", 1)[0]
    try:
        fs.invalidate_cache(bucket)
        exists = fs.exists(bucket)
    except (OSError, ValueError):
        return  # the store cannot say: the caller's own error stands
    if not exists:
        raise RemoteDataDirError(
            f"{remote.url}: there is no bucket '{bucket}' (check its name, and the "
            "endpoint and region: AWS_ENDPOINT_URL, storage_options)"
        )


def remote_listing(fs: Any, remote: RemoteDataDir) -> dict[str, dict[str, Any]]:
    """Every object of the data folder that belongs there, by path relative to it (none
    for an empty prefix). A missing bucket is an error, never an empty folder: a pull would
    delete the working copy's files."""
    fs.invalidate_cache()
    try:
        found = fs.find(remote.root, detail=True, withdirs=False)
    except FileNotFoundError:
        raise_if_no_bucket(fs, remote)
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


_ASKED_ONE_BY_ONE_AT_MOST = 32
_LISTED_FOLDERS_AT_MOST = 20


def listing_of(fs: Any, remote: RemoteDataDir, names: Sequence[str]) -> dict[str, Any]:
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


def etag_of(info: dict[str, Any]) -> str | None:
    etag = info.get("ETag") or info.get("etag") or info.get("md5")
    return str(etag) if etag is not None else None


def size_of(info: dict[str, Any]) -> int:
    size = info.get("size", info.get("Size", 0))
    return int(size) if isinstance(size, int) else 0
