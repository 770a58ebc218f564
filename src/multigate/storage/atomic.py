"""Atomic file writes: a temporary name in the target folder, then ``os.replace``.

Temporary names start with a dot (``.NAME.tmp-PID-RANDOM``), so Parquet readers such as
pyarrow.dataset, DuckDB and polars never mistake a half-written file for data, and a later
run clears the leftovers of a killed one.

A file with a sidecar is published sidecar first: the new sidecar (recording the temporary
file's sha256) replaces the old one, then the file moves into place, so no reader ever sees a
file at its final name without a sidecar. A run killed between the two leaves a sidecar whose
file is missing (or still the old bytes), which every check treats as absent; the next run
finishes that move when the dead writer's temporary file holds exactly the recorded bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from multigate.storage.layout import sidecar_path

_TMP_MARK = ".tmp-"
_CHUNK = 1 << 20

log = logging.getLogger(__name__)


def temp_name_for(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def remove_stale_temps(path: Path) -> int:
    """Retire temporary files that runs no longer alive left for ``path``; return how many."""
    removed = 0
    if path.parent.is_dir():
        for stale in path.parent.glob(f".{path.name}{_TMP_MARK}*"):
            if _writer_alive(stale.name):
                continue
            removed += retire_stale_temp(stale)
    return removed


def sweep_temp_files(root: Path) -> int:
    """Retire every temporary file under ``root``. Only call it while holding the run lock,
    when no other writer can be at work; returns how many were retired."""
    removed = 0
    if root.is_dir():
        for stale in root.rglob(f".*{_TMP_MARK}*"):
            if stale.is_file():
                removed += retire_stale_temp(stale)
    return removed


def retire_stale_temp(stale: Path) -> int:
    """Finish or remove a dead writer's temporary file; 1 when it is gone from its name.

    Finished (moved to its final name) when its final file's sidecar, already written,
    records exactly its bytes and the final file does not hold them yet: the writer died
    between the sidecar and the move. Otherwise it is removed.
    """
    final = _final_path(stale)
    with contextlib.suppress(FileNotFoundError):
        if final is not None and _publish_was_interrupted(stale, final):
            os.replace(stale, final)
            _fsync_dir(final.parent)
            log.info("finished publishing %s (its run stopped before the final move)", final)
            return 1
        stale.unlink()
        return 1
    return 0


def _final_path(temp: Path) -> Path | None:
    """``.NAME.tmp-PID-RANDOM`` -> ``NAME`` in the same folder."""
    name, mark, _ = temp.name.rpartition(_TMP_MARK)
    if not mark or not name.startswith(".") or len(name) < 2:
        return None
    return temp.with_name(name[1:])


def _publish_was_interrupted(temp: Path, final: Path) -> bool:
    recorded = _recorded_digest(final)
    if recorded is None or temp.stat().st_size != recorded[1]:
        return False
    if recorded[0] != _sha256(temp):
        return False
    return not (final.is_file() and _sha256(final) == recorded[0])


def _recorded_digest(path: Path) -> tuple[str, int] | None:
    """``(sha256, bytes)`` that ``path``'s sidecar records, or None."""
    try:
        record = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        file = record["file"]
        sha256, size = file["sha256"], file["bytes"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(sha256, str) or not isinstance(size, int) or isinstance(size, bool):
        return None
    return sha256, size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


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
def atomic_path(path: Path, *, sidecar_written: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place if the block succeeds.

    On any exception (or KeyboardInterrupt) the temporary file is removed and ``path`` is
    left as it was. With ``sidecar_written`` the block has already put the new sidecar in
    place (see ``publish_file``): the file moves under it, and no reader sees ``path``
    without a sidecar. Without it, ``path``'s old sidecar (if any) is deleted just before
    the move, so an old sidecar never describes new bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = temp_name_for(path)
    try:
        yield tmp
        _fsync(tmp)
        if not sidecar_written:
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
