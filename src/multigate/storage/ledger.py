"""An append-only JSON-lines ledger of cost estimates and paid downloads."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def append_ledger(
    path: Path, event: str, fields: Mapping[str, Any], at: datetime | None = None
) -> None:
    """Append one line ``{"at": ..., "event": ..., **fields}`` and fsync it."""
    record = {"at": (at or datetime.now(UTC)).astimezone(UTC).isoformat(), "event": event, **fields}
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
