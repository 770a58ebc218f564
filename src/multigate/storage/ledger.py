"""An append-only JSON-lines ledger of cost estimates, billable attempts and paid downloads.

Lines are strict JSON (never ``NaN`` or ``Infinity``). A run killed while appending can
leave a torn last line: readers skip it, and the next append drops it first. Every line is
written (and fsynced) before the call it announces, so a torn line announced a call that
was never made, or an outcome whose loss only makes the spend look higher.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from multigate.errors import DataError

log = logging.getLogger(__name__)


def append_ledger(
    path: Path, event: str, fields: Mapping[str, Any], at: datetime | None = None
) -> None:
    """Append one line ``{"at": ..., "event": ..., **fields}`` and fsync it. Returns only
    once every byte is on disk; a line that cannot be written whole (disk full, a file size
    limit) raises OSError, so the call it announces is never made."""
    record = {"at": (at or datetime.now(UTC)).astimezone(UTC).isoformat(), "event": event, **fields}
    line = json.dumps(record, sort_keys=True, default=str, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _drop_torn_tail(fd, path)
        size = os.fstat(fd).st_size
        try:
            _write_all(fd, line.encode())
            os.fsync(fd)
        except OSError:
            _cut_back(fd, size)  # a disk that filled mid-line leaves no torn line behind
            raise
    finally:
        os.close(fd)


def _cut_back(fd: int, size: int) -> None:
    """Truncate to ``size`` (best effort: what fails here is left for the next append)."""
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass


def read_ledger(path: Path) -> list[dict[str, Any]]:
    """Every record of the ledger, in order. A torn last line is skipped; any other
    unreadable line is a DataError naming the file and line, since money may hide in it.
    ``NaN`` or ``Infinity`` (written by older versions) read as null: an unknown price."""
    return [record for _, record in read_ledger_lines(path)]


def read_ledger_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Every record of the ledger with its line number (1-based), as ``read_ledger``."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    records: list[tuple[int, dict[str, Any]]] = []
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=lambda constant: None)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append((number + 1, record))
        elif number == last:
            log.debug("%s: skipping a torn last line", path)
        else:
            raise DataError(
                f"{path}:{number + 1}: not a ledger record; fix or remove that line "
                "(the ledger is what budget_usd is checked against)"
            )
    return records


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data`: a short write is continued, so a write that cannot go
    on raises (EFBIG, ENOSPC, ...) instead of leaving half a line behind silently."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(f"no progress writing the ledger ({written} bytes written)")
        view = view[written:]


def _drop_torn_tail(fd: int, path: Path) -> None:
    """Cut the file back to its last newline when a killed writer left half a line."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(end - 4096, 0)
        block = os.pread(fd, end - start, start)
        cut = block.rfind(b"\n")
        if cut >= 0:
            end = start + cut + 1
            break
        end = start
    if end < size:
        log.warning(
            "%s: dropping a torn last line (a run stopped while writing it: killed, or "
            "its disk full)",
            path,
        )
        os.ftruncate(fd, end)
