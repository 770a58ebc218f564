"""A working copy's manifest: what it last shared with the bucket, file by file."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from multigate.storage.atomic import write_bytes_atomic
from multigate.storage.remote.bucket_listing import inside_folder
from multigate.storage.remote.location import MANIFEST_NAME, RemoteDataDir, RemoteDataDirError

log = logging.getLogger(__name__)


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
                f"{remote.cache_dir} is the working copy of {url} at "
                f"{_endpoint(record['store'])}, not at {_endpoint(store)}: check "
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
        record = {
            "version": 1,
            "url": self._remote.url,
            "store": self._store,
            "files": self.files,
        }
        write_bytes_atomic(self._path, json.dumps(record, sort_keys=True).encode())


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def _endpoint(store: object) -> str:
    """A store as a sentence names it (none recorded: AWS's own endpoint)."""
    return f"the endpoint {store}" if store else "AWS's default endpoint"
