"""Atomic file writes: a temporary name in the target folder, then ``os.replace``.

Temporary names start with a dot (``.NAME.tmp-PID-RANDOM``), so Parquet readers such as
pyarrow.dataset, DuckDB and polars never mistake a half-written file for data, and a later
run clears the leftovers of a killed one.

A file with a sidecar is published sidecar first: the new sidecar (recording the temporary
file's sha256) replaces the old one, then the file moves into place, so no reader ever sees a
file at its final name without a sidecar. A run killed between the two leaves a sidecar whose
file is missing (or still the old bytes), which every check treats as absent; the next run
finishes the moves when the dead writer's temporary file holds exactly the bytes its sidecar
(moved in, or still temporary itself) records: a paid download killed there is kept.

Paid downloads are written to ``.NAME.paid-PID-RANDOM`` instead: bytes that cost money are
never swept unread. A run that is stopped keeps them, and the next run verifies a dead
writer's leftover and either keeps it as the file or deletes it as incomplete
(``leftover_paid_temps``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from multigate.storage.hashing import sha256_of
from multigate.storage.layout import SIDECAR_SUFFIX, sidecar_path

_TMP_MARK = ".tmp-"
_PAID_MARK = ".paid-"

log = logging.getLogger(__name__)


def temp_name_for(path: Path, mark: str = _TMP_MARK) -> Path:
    return path.with_name(f".{path.name}{mark}{os.getpid()}-{secrets.token_hex(4)}")


def temp_name_as(path: Path, writer_temp: Path) -> Path:
    """A temporary name for ``path`` under the writer named in ``writer_temp`` (its PID and
    token): swept once that writer is gone, whichever process fills it."""
    _, mark, writer = writer_temp.name.rpartition(_TMP_MARK)
    if not mark or not writer:
        raise ValueError(f"{writer_temp.name} is not a temporary name")
    return path.with_name(f".{path.name}{_TMP_MARK}{writer}")


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
        if p.is_file() and not _writer_alive(p)
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime_ns)


def is_temporary_name(name: str) -> bool:
    """Whether a file name is one of this module's temporary names (a publish's or a paid
    download's), never a finished file."""
    return name.startswith(".") and (_TMP_MARK in name or _PAID_MARK in name)


def own_paid_temps(root: Path) -> list[Path]:
    """The paid downloads this process was receiving under ``root`` (kept when a run
    stops; the next run verifies them)."""
    return sorted(root.rglob(f".*{_PAID_MARK}{os.getpid()}-*"))


def dead_paid_temps(root: Path) -> dict[Path, list[Path]]:
    """Every paid download under ``root`` that a run no longer alive left, by the final
    path it was received for."""
    if not root.is_dir():
        return {}
    found: dict[Path, list[Path]] = {}
    for temp in sorted(root.rglob(f".*{_PAID_MARK}*")):
        name, mark, _ = temp.name.rpartition(_PAID_MARK)
        if mark and name.startswith(".") and temp.is_file() and not _writer_alive(temp):
            found.setdefault(temp.with_name(name[1:]), []).append(temp)
    return found


def remove_stale_temps(path: Path) -> int:
    """Retire temporary files that runs no longer alive left for ``path`` (and for its
    sidecar); return how many."""
    if not path.parent.is_dir():
        return 0
    names = (path.name, sidecar_path(path).name)
    temps = [t for name in names for t in path.parent.glob(f".{name}{_TMP_MARK}*")]
    return _retire([t for t in temps if not _writer_alive(t)])


def sweep_temp_files(root: Path) -> int:
    """Retire the temporary files under ``root`` whose writer is no longer alive (finishing
    an interrupted publish where the bytes are all there); return how many were retired.
    Another run may be at work below ``root`` (on a data folder inside this one, under its
    own lock): its temporary files are left alone."""
    if not root.is_dir():
        return 0
    temps = root.rglob(f".*{_TMP_MARK}*")
    return _retire([t for t in temps if t.is_file() and not _writer_alive(t)])


def _retire(temps: list[Path]) -> int:
    """Retire dead writers' ``temps``: sidecars first, since finishing one also finishes the
    data file it describes."""
    sidecars = [t for t in temps if t.name.rpartition(_TMP_MARK)[0].endswith(SIDECAR_SUFFIX)]
    retired = sum(_retire_sidecar_temp(t) for t in sidecars)
    return retired + sum(retire_stale_temp(t) for t in temps if t not in sidecars)


def _retire_sidecar_temp(temp: Path) -> int:
    """A dead writer's temporary sidecar: when it records exactly the bytes of a dead
    writer's temporary data file beside it (killed just before moving the sidecar), move
    both into place; otherwise remove it."""
    sidecar = _final_path(temp)
    if sidecar is None:
        return retire_stale_temp(temp)
    data = sidecar.with_name(sidecar.name.removesuffix(SIDECAR_SUFFIX))
    recorded = _digest_recorded_in(temp)
    if recorded is not None and not _holds(data, recorded):
        for candidate in data.parent.glob(f".{data.name}{_TMP_MARK}*"):
            if not _writer_alive(candidate) and _holds(candidate, recorded):
                os.replace(temp, sidecar)
                os.replace(candidate, data)
                _fsync_dir(data.parent)
                log.info("finished publishing %s (its run stopped before the final moves)", data)
                return 1
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
        return 1
    return 0


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
    recorded = _digest_recorded_in(sidecar_path(final))
    return recorded is not None and _holds(temp, recorded) and not _holds(final, recorded)


def _holds(path: Path, digest: tuple[str, int]) -> bool:
    """Whether ``path`` is a file of exactly the recorded size and sha256."""
    try:
        return path.stat().st_size == digest[1] and sha256_of(path) == digest[0]
    except OSError:
        return False


def _digest_recorded_in(sidecar: Path) -> tuple[str, int] | None:
    """``(sha256, bytes)`` that the sidecar file ``sidecar`` records, or None."""
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        file = record["file"]
        sha256, size = file["sha256"], file["bytes"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(sha256, str) or not isinstance(size, int) or isinstance(size, bool):
        return None
    return sha256, size


def _writer_alive(temp: Path) -> bool:
    """Whether the process named in ``.NAME.tmp-PID-RANDOM`` still runs (not this one) and
    is the one that wrote ``temp``: on Linux, a process started after the file was last
    written got the dead writer's PID reused and does not count."""
    mark = _PAID_MARK if _PAID_MARK in temp.name else _TMP_MARK
    try:
        pid = int(temp.name.rsplit(mark, 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = process_start_time(pid)
    if started is None:  # not Linux (or /proc unreadable): the PID alone decides
        return True
    try:
        written = temp.stat().st_mtime
    except FileNotFoundError:
        return False
    return started <= written + _START_TIME_SLACK


_START_TIME_SLACK = 2.0
"""Seconds: the boot time /proc gives is whole seconds, process start times 1/100 s."""


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (Unix time), from /proc; None where that is unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        ticks = float(stat.rpartition(")")[2].split()[19])  # field 22: starttime
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


@contextlib.contextmanager
def atomic_path(path: Path, *, sidecar_written: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place if the block succeeds.

    On any exception (or KeyboardInterrupt) the temporary file is removed and ``path`` is
    left as it was. With ``sidecar_written`` the block has already put the new sidecar in
    place (see ``publish_file``): the file moves under it, and no reader sees ``path``
    without a sidecar. Without it, ``path``'s old sidecar (if any) is deleted just before
    the move, so an old sidecar never describes new bytes. (A dataset's past versions keep
    their bytes under content-named links of their own: see ``delta_tables``.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = temp_name_for(path)
    try:
        yield tmp
        publish(tmp, path, sidecar_written=sidecar_written)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def publish(tmp: Path, path: Path, *, sidecar_written: bool = False) -> None:
    """Move the finished ``tmp`` to ``path`` durably. Unless its new sidecar is already in
    place (``sidecar_written``), ``path``'s old sidecar is dropped first."""
    _fsync(tmp)
    if not sidecar_written:
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
