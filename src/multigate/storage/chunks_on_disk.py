"""Whether a downloaded chunk on disk can be reused instead of fetched (and paid) again."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from multigate.storage.provenance import read_sidecar, sha256_of

FETCHED_AT = "fetched_at"


def chunk_is_stored(path: Path, chunk_end: datetime) -> bool:
    """True when ``path`` holds a complete download: its sidecar's sha256 matches the bytes,
    and it was fetched after ``chunk_end`` (an earlier fetch may miss later data)."""
    record = read_sidecar(path)
    if record is None or not path.is_file():
        return False
    fetched_at = (record.get("extra") or {}).get(FETCHED_AT)
    if not fetched_at or datetime.fromisoformat(fetched_at) < chunk_end:
        return False
    return (record.get("file") or {}).get("sha256") == sha256_of(path)
