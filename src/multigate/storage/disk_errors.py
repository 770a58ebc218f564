"""Local write errors: the machine, not the vendor, refused to store bytes.

Retrying a paid download cannot help when the disk is full or read-only, so such an error
(found anywhere in an exception's cause chain, as vendor clients often wrap it) fails the
job at once, saying where and how much room the file needs.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from multigate.errors import LocalWriteError

LOCAL_WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG}
)
"""Disk full, read-only filesystem, permission, quota, file larger than allowed."""


def local_write_error(exc: BaseException) -> OSError | None:
    """The local write error behind ``exc`` (itself, its cause or context), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in LOCAL_WRITE_ERRNOS:
            return current
        current = current.__cause__ or current.__context__
    return None


def write_refused(folder: Path, error: OSError, received_bytes: int, what: str) -> LocalWriteError:
    """The error to raise: the folder, the reason, and the room ``what`` needs there."""
    code = errno.errorcode.get(error.errno or 0, str(error.errno))
    try:
        free = f"{shutil.disk_usage(_existing(folder)).free:,} bytes free there"
    except OSError:
        free = "free space unknown"
    return LocalWriteError(
        f"cannot store {what} in {folder}: {os.strerror(error.errno or 0)} ({code}). It needs "
        f"more than the {received_bytes:,} bytes received before the write failed "
        f"({free}); nothing was kept and it was not retried. Make room (or fix the "
        "permissions) and re-run."
    )


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
