"""One run at a time per data folder: two overlapping runs (say, from cron) would download,
and pay for, the same chunks twice."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from multigate.errors import IngestError

LOCK_NAME = ".multigate.lock"


class RunLocked(IngestError):
    """Another run holds the data folder's lock."""


@contextmanager
def run_lock(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``data_dir/.multigate.lock`` for the block. The file is
    never written, so a run that changes nothing leaves every file's mtime as it was."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(
                f"another run is using {data_dir} ({path} is locked); wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)


def held_elsewhere(data_dir: Path) -> bool:
    """Whether a run holds ``data_dir``'s lock now (asked without taking it or creating
    the lock file: a dry run says so, since a real run would exit 4)."""
    try:
        fd = os.open(data_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False
