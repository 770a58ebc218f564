"""One run at a time per remote data folder: a lock object in the bucket.

The lock is ``<data_dir>/.multigate.lock``, created only if absent (S3's conditional
``If-None-Match: *``; fsspec's exclusive ``xb`` mode), holding who took it. It is deleted
when the run ends. A lock left by a run that died on *this* machine (its process is gone)
is taken over, conditionally on the object being the one read (``If-Match``), so two
runs never both take it. "This machine" is the host name *and*, where known, the kernel's
boot id and the PID namespace: containers on two machines may share a host name, and a
PID means nothing outside its namespace. A lock held from another machine is never
broken automatically: that run may still be downloading (and paying); the message names
it, and how to remove the lock once it is known to be gone.

A run that ends with files the bucket lacks (its upload failed, or it was stopped while
receiving a paid download) keeps the lock instead of deleting it, saying why in it: until
a run with the same working copy uploads them, another machine would buy again what that
copy holds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from multigate.storage.atomic import process_start_time
from multigate.storage.remote.location import MANIFEST_NAME, RemoteDataDir
from multigate.storage.run_lock import LOCK_NAME, RunLocked

log = logging.getLogger(__name__)

_HELD: set[str] = set()
"""The tokens of the lock objects this process holds now (one it left earlier, keeping it
for a failed upload, is taken over by its next run)."""


class HeldLock:
    """The lock object a run holds: released at the end unless ``keep`` was called."""

    def __init__(self, *, taken_over: bool) -> None:
        self.kept: str | None = None
        self.taken_over = taken_over
        """Whether it was left by a run that ended without releasing it (and so may have
        left files to upload in this working copy)."""

    def keep(self, reason: str) -> None:
        """Leave the lock in the bucket when the block ends, because ``reason`` (files of
        the working copy the bucket lacks)."""
        self.kept = reason


@contextlib.contextmanager
def object_lock(fs: Any, remote: RemoteDataDir, *, purpose: str = "ingest") -> Iterator[HeldLock]:
    """Hold ``remote``'s lock object for the block; raise RunLocked when another run holds
    it."""
    key = remote.key(LOCK_NAME)
    mine = _holder(remote, purpose)
    body = json.dumps(mine, indent=1).encode()
    held = HeldLock(taken_over=_take(fs, key, body, remote))
    _HELD.add(mine["token"])
    try:
        yield held
    finally:
        _HELD.discard(mine["token"])
        if held.kept is None:
            _release(fs, key, mine["token"], remote)
        else:
            _keep(fs, key, {**mine, "kept": held.kept}, remote)


def _holder(remote: RemoteDataDir, purpose: str) -> dict[str, Any]:
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "pid_started": process_start_time(pid),
        "pid_space": pid_space(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "purpose": purpose,
        "working_copy": str(remote.cache_dir),
        "token": secrets.token_hex(8),
    }


def _take(fs: Any, key: str, body: bytes, remote: RemoteDataDir) -> bool:
    """Create the lock object, or take over one a dead run of this machine left (True)."""
    try:
        if fs.exists(key):  # a store that ignores If-None-Match would overwrite it
            raise FileExistsError(key)
        _create_exclusive(fs, key, body)
        _confirm(fs, key, body, remote)
        return False
    except FileExistsError:
        pass
    held, etag = _read(fs, key)
    if held is None or not _died_here(held):
        raise RunLocked(_held_message(remote, held))
    if held.get("working_copy", str(remote.cache_dir)) != str(remote.cache_dir):
        raise RunLocked(_other_copy_message(remote, held))
    if "working_copy" in held and not (remote.cache_dir / MANIFEST_NAME).is_file():
        raise RunLocked(_lost_copy_message(remote, held))
    log.warning(
        "taking over the lock of %s left by run %s, which ended without releasing it",
        remote.url,
        held.get("pid"),
    )
    try:
        _replace_if_unchanged(fs, key, body, etag)
    except (FileExistsError, OSError):
        raise RunLocked(_held_message(remote, _read(fs, key)[0])) from None
    _confirm(fs, key, body, remote)
    return True


def _confirm(fs: Any, key: str, body: bytes, remote: RemoteDataDir) -> None:
    """Read the lock object back: another run that wrote it at the same moment, on a store
    that ignores conditional writes, has its own token there (the later write wins)."""
    held, _ = _read(fs, key)
    if held is None or held.get("token") != json.loads(body)["token"]:
        raise RunLocked(_held_message(remote, held))


def _create_exclusive(fs: Any, key: str, body: bytes) -> None:
    with fs.open(key, "xb") as handle:
        handle.write(body)


def _replace_if_unchanged(fs: Any, key: str, body: bytes, etag: str | None) -> None:
    """Overwrite the lock object only if it is still the one read (S3: ``If-Match``)."""
    if etag is not None and fs.protocol[0] in ("s3", "s3a"):
        fs.pipe_file(key, body, IfMatch=etag)
        return
    fs.rm_file(key)
    _create_exclusive(fs, key, body)


def _read(fs: Any, key: str) -> tuple[dict[str, Any] | None, str | None]:
    """The lock object's holder record (None when unreadable) and its ETag."""
    try:
        fs.invalidate_cache(key)
        etag = fs.info(key).get("ETag")
        held = json.loads(fs.cat_file(key))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError):
        return None, None
    return (held if isinstance(held, dict) else None), etag


def lock_holder(fs: Any, remote: RemoteDataDir) -> str | None:
    """Who holds the bucket's lock object now, in words (None: nobody), read without
    taking it: a dry run on another machine says so, since a real run would exit 4."""
    key = remote.key(LOCK_NAME)
    try:
        fs.invalidate_cache(key)
        if not fs.exists(key):
            return None
    except (OSError, ValueError):
        return None
    held, _etag = _read(fs, key)
    if held is None:
        return "another run"
    return (
        f"run {held.get('pid')} on {held.get('host')} ({held.get('purpose', 'ingest')}, "
        f"since {held.get('since')})"
    )


def pid_space() -> str | None:
    """Where this process's PID means something: the kernel's boot id and the PID
    namespace (Linux); None where that is unknown."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot} {namespace}"


def _same_pid_space(held: dict[str, Any]) -> bool:
    recorded, mine = held.get("pid_space"), pid_space()
    return recorded is None or mine is None or recorded == mine


def _died_here(held: dict[str, Any]) -> bool:
    """Whether the holder ran on this machine and its process is gone (or its PID now
    belongs to a process started later, or it is this process, whose run ended)."""
    if held.get("host") != socket.gethostname() or not _same_pid_space(held):
        return False
    pid = held.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return held.get("token") not in _HELD
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    started, recorded = process_start_time(pid), held.get("pid_started")
    return isinstance(recorded, float) and started is not None and abs(started - recorded) > 1


def _held_message(remote: RemoteDataDir, held: dict[str, Any] | None) -> str:
    where = remote.key(LOCK_NAME)
    if held is None:
        who = "another run"
    else:
        who = (
            f"run {held.get('pid')} on {held.get('host')} ({held.get('purpose', 'ingest')}, "
            f"since {held.get('since')})"
        )
    if held is not None and held.get("kept"):
        return (
            f"{remote.url} is locked: {who} ended with files the bucket lacks ("
            f"{held['kept']}) in its working copy {held.get('working_copy')} on "
            f"{held.get('host')}, and kept its lock object {remote.protocol}://{where} so "
            "that no other machine buys them again. Run again there (same cache_dir) to "
            "upload them and release the lock"
        )
    if held is not None and held.get("host") == socket.gethostname() and not _same_pid_space(held):
        who += " (this host's name, but another boot or container: its process is out of sight)"
    return (
        f"another run is using {remote.url}: {who} holds its lock object {remote.protocol}://"
        f"{where}. Wait for it to finish; if that run is gone for good (its machine "
        f"stopped), delete that object and run again"
    )


def _other_copy_message(remote: RemoteDataDir, held: dict[str, Any]) -> str:
    """A run of this machine that died with another working copy: its files the bucket
    lacks (paid downloads included) are there, and only a run with that copy uploads them."""
    where = f"{remote.protocol}://{remote.key(LOCK_NAME)}"
    return (
        f"{remote.url} is locked by run {held.get('pid')} of this machine (since "
        f"{held.get('since')}), which ended without releasing it while working in "
        f"{held.get('working_copy')}, not in this run's {remote.cache_dir}: files it made "
        "(paid downloads too) may be there and not in the bucket. Run with cache_dir: "
        f"{held.get('working_copy')} to upload them; if that folder is gone, delete {where}"
    )


def _lost_copy_message(remote: RemoteDataDir, held: dict[str, Any]) -> str:
    """A run of this machine died holding the lock, and its working copy is gone since."""
    where = f"{remote.protocol}://{remote.key(LOCK_NAME)}"
    return (
        f"{remote.url} is locked by run {held.get('pid')} of this machine (since "
        f"{held.get('since')}), which ended without releasing it, and its working copy "
        f"{remote.cache_dir} is gone (deleted or emptied since): what that run made and "
        "had not uploaded is lost, paid downloads and their ledger lines included, so a "
        "run now may buy those chunks again and budget_usd would not count what they "
        f"cost the first time. If that is understood, delete {where} and run again"
    )


def _keep(fs: Any, key: str, record: dict[str, Any], remote: RemoteDataDir) -> None:
    """Leave the lock object in place, saying in it why (when the bucket can be reached)."""
    log.error(
        "kept the lock object of %s: %s; run again on this machine (same cache_dir) to "
        "upload what %s holds",
        remote.url,
        record["kept"],
        remote.cache_dir,
    )
    with contextlib.suppress(Exception):  # the lock stays either way
        fs.pipe_file(key, json.dumps(record, indent=1).encode())


def _release(fs: Any, key: str, token: str, remote: RemoteDataDir) -> None:
    """Delete the lock object if it is still ours. A failure is said, not raised: the run's
    work is done and uploaded, and the next run here takes the lock over."""
    try:
        fs.invalidate_cache(key)
        held = json.loads(fs.cat_file(key))
        if not isinstance(held, dict) or held.get("token") != token:
            log.warning("the lock object %s is no longer this run's: left as it is", key)
            return
        fs.rm_file(key)
    except FileNotFoundError:
        log.warning("the lock object %s was deleted while this run held it", key)
    except Exception as exc:  # the run's outcome stands
        log.error(
            "could not delete the lock object %s://%s (%s): other runs are kept out until "
            "it is deleted, by hand or by the next run on this machine with this cache_dir",
            remote.protocol,
            key,
            str(exc).strip() or type(exc).__name__,
        )
