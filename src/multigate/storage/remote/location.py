"""Where an object-store data folder is: its URL, how to reach it, where its working copy is."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from multigate.errors import IngestError

LOCAL_SCHEMES = ("", "file", "local")
MANIFEST_NAME = ".multigate-sync.json"
"""A working copy's record of what it shares with the bucket (``sync_manifest.py``)."""
STAGING_AREA = ".multigate-staging"
"""Where convert tasks of remote workers exchange files (``engine/bucket_staging.py``)."""


class RemoteDataDirError(IngestError):
    """The remote data folder could not be reached or read (before a run: nothing ran)."""


class RemoteUploadError(RemoteDataDirError):
    """A run's files could not be uploaded (they stay in the working copy)."""


def is_remote_url(text: str) -> bool:
    """Whether ``data_dir`` names object storage (``s3://...``) rather than a local folder."""
    scheme = urlsplit(text).scheme if "://" in text else ""
    return scheme.lower() not in LOCAL_SCHEMES and len(scheme) > 1


@dataclass(frozen=True)
class RemoteDataDir:
    """A data folder on object storage, and the local working copy a run uses."""

    url: str
    """As written in ingest.yaml, without a trailing slash (``s3://bucket/prefix``)."""
    cache_dir: Path
    """The local working copy (``cache_dir:``, or a folder under the user's cache)."""
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    """Passed to the fsspec filesystem (``storage_options:`` in ingest.yaml)."""
    kept_when_lost: tuple[str, ...] = ()
    """Folders (``raw/databento/``) whose files no run deletes (paid downloads and their
    ledger): one missing from the bucket was lost there, so a pull keeps the working
    copy's and uploads it again rather than deleting it (it would be bought again)."""

    @property
    def protocol(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def root(self) -> str:
        """``bucket/prefix``: the URL without its scheme, as fsspec names paths."""
        return self.url.split("://", 1)[1].strip("/")

    def key(self, relative: str) -> str:
        """The full fsspec path of a file ``relative`` to the data folder."""
        return f"{self.root}/{relative}" if relative else self.root


def parse_remote(
    url: str,
    *,
    cache_dir: Path | None = None,
    storage_options: Mapping[str, Any] | None = None,
    kept_when_lost: tuple[str, ...] = (),
) -> RemoteDataDir:
    """The remote data folder ``url``; raise ValueError saying what is wrong with it."""
    url = url.strip().rstrip("/")
    scheme, _, rest = url.partition("://")
    bucket = rest.split("/", 1)[0]
    if not bucket:
        raise ValueError(f"'{url}' names no bucket (write {scheme}://BUCKET/PREFIX)")
    if any(part in (".", "..") for part in rest.split("/")):
        raise ValueError(f"'{url}' holds a '.' or '..' part")
    return RemoteDataDir(
        url=f"{scheme.lower()}://{rest}",
        cache_dir=cache_dir if cache_dir is not None else default_cache_dir(url),
        storage_options=dict(storage_options or {}),
        kept_when_lost=kept_when_lost,
    )


def default_cache_dir(url: str) -> Path:
    """``$XDG_CACHE_HOME/multigate/<scheme>/<bucket>/<prefix>-<hash>`` (the hash keeps two
    URLs whose names differ only in case or encoding apart)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    scheme, _, rest = url.partition("://")
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    parts = [part for part in rest.split("/") if part]
    folder = base / "multigate" / scheme.lower() / Path(*parts[:-1] or ["."])
    return folder / f"{parts[-1]}-{digest}"
