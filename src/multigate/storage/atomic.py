"""Atomic file writes: a temporary name in the target folder, then ``os.replace``.

Temporary names start with a dot (``.NAME.tmp-PID-RANDOM``), so Parquet readers such as
pyarrow.dataset, DuckDB and polars never mistake a half-written file for data, and a later
run clears the leftovers of a killed one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from multigate.storage.layout import sidecar_path

_TMP_MARK = ".tmp-"


def temp_name_for(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


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
    """Remove every temporary file under ``root``. Only call it while holding the run lock,
    when no other writer can be at work; returns how many were removed."""
    removed = 0
    if root.is_dir():
        for stale in root.rglob(f".*{_TMP_MARK}*"):
            if stale.is_file():
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
                    removed += 1
    return removed


def _writer_alive(temp_name: str) -> bool:
    """Whether the process named in ``.NAME.tmp-PID-RANDOM`` still runs (not this one)."""
    try:
        pid = int(temp_name.rsplit(_TMP_MARK, 1)[1].split("-", 1)[0])
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
    ingested output that snapshots may hold is first kept in the snapshot store (unless
    the new bytes are the same).
    """
    from multigate.storage.snapshots import keep_for_snapshots  # it writes with this module

    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = temp_name_for(path)
    try:
        yield tmp
        _fsync(tmp)
        keep_for_snapshots(path, replacement=tmp)
        sidecar_path(path).unlink(missing_ok=True)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


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
