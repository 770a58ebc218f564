"""Atomic file writes: a temporary name in the target folder, then ``os.replace``.

Temporary names start with a dot (``.NAME.tmp-PID-RANDOM``), so Parquet readers such as
pyarrow.dataset, DuckDB and polars never mistake a half-written file for data, and a later
run clears the leftovers of a killed one.

Paid downloads are written to ``.NAME.paid-PID-RANDOM`` instead: bytes that cost money are
never swept unread. A run that is stopped keeps them, and the next run verifies a dead
writer's leftover and either keeps it as the file or deletes it as incomplete
(``leftover_paid_temps``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from multigate.storage.layout import sidecar_path

_TMP_MARK = ".tmp-"
_PAID_MARK = ".paid-"


def temp_name_for(path: Path, mark: str = _TMP_MARK) -> Path:
    return path.with_name(f".{path.name}{mark}{os.getpid()}-{secrets.token_hex(4)}")


def paid_temp_name_for(path: Path) -> Path:
    """Where a paid download of ``path`` is received (never removed by a sweep)."""
    return temp_name_for(path, _PAID_MARK)


def leftover_paid_temps(path: Path) -> list[Path]:
    """Paid downloads of ``path`` that runs no longer alive left behind, oldest first."""
    if not path.parent.is_dir():
        return []
    found = [
        p
        for p in path.parent.glob(f".{path.name}{_PAID_MARK}*")
        if p.is_file() and not _writer_alive(p.name)
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime_ns)


def remove_stale_temps(path: Path) -> int:
    """Remove temporary files that runs no longer alive left for ``path``; return how many."""
    removed = 0
    if path.parent.is_dir():
        for stale in path.parent.glob(f".{path.name}{_TMP_MARK}*"):
            if _writer_alive(stale.name):
                continue
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
                removed += 1
    return removed


def sweep_temp_files(root: Path) -> int:
    """Remove the temporary files under ``root`` whose writer is no longer alive; return
    how many were removed. Another run may be at work below ``root`` (on a data folder
    inside this one, under its own lock): its temporary files are left alone."""
    removed = 0
    if root.is_dir():
        for stale in root.rglob(f".*{_TMP_MARK}*"):
            if stale.is_file() and not _writer_alive(stale.name):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
                    removed += 1
    return removed


def _writer_alive(temp_name: str) -> bool:
    """Whether the process named in ``.NAME.tmp-PID-RANDOM`` still runs (not this one)."""
    mark = _PAID_MARK if _PAID_MARK in temp_name else _TMP_MARK
    try:
        pid = int(temp_name.rsplit(mark, 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place if the block succeeds.

    On any exception (or KeyboardInterrupt) the temporary file is removed and ``path`` is
    left as it was. Just before the move, ``path``'s sidecar (if any) is deleted, so an
    old sidecar never describes new bytes; the caller writes the new one afterwards. An
    ingested output that snapshots may hold is first kept in the snapshot store.
    """
    from multigate.storage.snapshots import keep_for_snapshots  # it writes with this module

    keep_for_snapshots(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = temp_name_for(path)
    try:
        yield tmp
        publish(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def publish(tmp: Path, path: Path) -> None:
    """Move the finished ``tmp`` to ``path`` durably, dropping ``path``'s old sidecar first."""
    _fsync(tmp)
    sidecar_path(path).unlink(missing_ok=True)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
