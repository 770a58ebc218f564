"""Stat signatures: tell that an output is unchanged since the last snapshot without
reading its sidecar.

A signature is ``(inode, size, mtime_ns, ctime_ns)`` of the output and of its sidecar. Any
change to either file (new bytes, a new sidecar, a rename over it, even a copy that keeps
the old mtime) sets its ctime to the current time. A signature is recorded as trusted only
when both ctimes are older than a probe file created just before the files are looked at
(git's "racily clean" rule): a later change gets a ctime at or after the probe's, so it
can never reproduce a trusted signature. Untrusted outputs have their sidecar read again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from multigate.storage.layout import SIDECAR_SUFFIX

Signature = tuple[int, ...]


def filesystem_now(folder: Path) -> int:
    """The filesystem's current time (ctime of a probe file made in ``folder``), in ns;
    0 when no probe can be made there (then no signature is trusted)."""
    probe = folder / f".probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.touch()
        return probe.stat().st_ctime_ns
    except OSError:
        return 0
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def signature_of(path: str | Path) -> Signature | None:
    """The signature of output ``path`` and its sidecar; None when either is missing."""
    text = os.fspath(path)
    try:
        data = os.stat(text)
        side = os.stat(text + SIDECAR_SUFFIX)
    except OSError:
        return None
    return (
        data.st_ino,
        data.st_size,
        data.st_mtime_ns,
        data.st_ctime_ns,
        side.st_ino,
        side.st_size,
        side.st_mtime_ns,
        side.st_ctime_ns,
    )


def is_trusted(signature: Signature, probe_ns: int) -> bool:
    """Whether both files last changed strictly before the probe (see the module doc)."""
    return signature[3] < probe_ns and signature[7] < probe_ns
