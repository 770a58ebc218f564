"""A run against a remote data folder: lock the bucket, bring the working copy up to date,
run on the copy, upload what changed, unlock."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from multigate.errors import IngestError
from multigate.progress import Progress
from multigate.storage.atomic import own_paid_temps
from multigate.storage.remote.bucket_listing import raise_if_no_bucket
from multigate.storage.remote.filesystem import open_filesystem
from multigate.storage.remote.location import (
    STAGING_AREA,
    RemoteDataDir,
    RemoteDataDirError,
    RemoteUploadError,
)
from multigate.storage.remote.object_lock import HeldLock, object_lock
from multigate.storage.remote.working_copy import SyncReport, pull, push
from multigate.storage.run_lock import RunLocked, run_lock

log = logging.getLogger(__name__)


@contextlib.contextmanager
def remote_session(
    remote: RemoteDataDir,
    env: Mapping[str, str],
    *,
    exclusive: bool,
    purpose: str = "ingest",
    progress: Progress | None = None,
    only: tuple[str, ...] | None = None,
) -> Iterator[Callable[[], None] | None]:
    """For the block, ``remote.cache_dir`` is an up-to-date copy of ``remote``.

    ``exclusive`` (a run that writes): the bucket's lock object and the copy's local lock
    are held, and what the block changed is uploaded when it ends, whether it succeeded or
    not (what it published is complete; what it did not is not uploaded). Otherwise (a dry
    run, a reader) the copy is only brought up to date.

    The block receives a function that uploads what changed so far (the dispatcher calls
    it after each job, so that a job's downloads and outputs reach the bucket before the
    next job starts; a failure there is logged and left for the final upload), or None
    when not ``exclusive``. ``only``: the folders of the data folder the block reads (the
    rest of the bucket is not fetched; see ``pull``).
    """
    if not exclusive:
        refresh_working_copy(remote, env, progress, only)
        yield None
        return
    fs = _reach(remote, "open", lambda: open_filesystem(remote, env))
    with contextlib.ExitStack() as stack:
        lock = object_lock(fs, remote, purpose=purpose)
        try:
            held: HeldLock = _reach(remote, "lock", lambda: stack.enter_context(lock))
        except RemoteDataDirError:
            raise_if_no_bucket(fs, remote)  # said as a reader says it
            raise
        # Why the lock stays if the block ends here: the bucket lacks files of the copy
        # (this run's, or those of the dead run whose lock it took over).
        left: str | None = "its upload did not complete"
        ran = False
        try:
            stack.enter_context(run_lock(remote.cache_dir))
            _reach(remote, "clean", lambda: _remove_staging_leftovers(fs, remote))
            _log_pull(remote, _reach(remote, "read", lambda: pull(fs, remote, progress, only)))
            ran = True
            try:
                yield lambda: _push_after_job(fs, remote, progress)
            except BaseException:
                if _push_after_failure(fs, remote, progress):
                    paid = own_paid_temps(remote.cache_dir)
                    left = (
                        f"{len(paid)} paid download(s) to verify, such as {paid[0]}"
                        if paid
                        else None
                    )
                raise
            _log_push(remote, _reach(remote, "upload to", lambda: push(fs, remote, progress)))
            left = None
        finally:
            if left is not None and (ran or held.taken_over):
                held.keep(left)


def _remove_staging_leftovers(fs: Any, remote: RemoteDataDir) -> None:
    """Files that runs killed before their end left for remote workers (this run holds
    the lock: no other run is using them)."""
    with contextlib.suppress(FileNotFoundError):
        fs.invalidate_cache()
        if fs.find(remote.key(STAGING_AREA)):
            fs.rm(remote.key(STAGING_AREA), recursive=True)
            log.info("removed the files a stopped run left in %s/%s", remote.url, STAGING_AREA)


def refresh_working_copy(
    remote: RemoteDataDir,
    env: Mapping[str, str],
    progress: Progress | None = None,
    only: tuple[str, ...] | None = None,
) -> None:
    """Bring ``remote``'s working copy up to date for reading (no lock in the bucket: a
    reader never stops a run). A run of this machine at work in the copy is left alone."""
    fs = _reach(remote, "open", lambda: open_filesystem(remote, env))
    try:
        with run_lock(remote.cache_dir):
            pulled = _reach(remote, "read", lambda: pull(fs, remote, progress, only))
            _log_pull(remote, pulled, reader=True)
    except RunLocked:
        log.warning(
            "another run on this machine is using the working copy %s: reading it as it is",
            remote.cache_dir,
        )


def _push_after_job(fs: Any, remote: RemoteDataDir, progress: Progress | None) -> None:
    try:
        _log_push(remote, push(fs, remote, progress))
    except Exception as exc:  # the run goes on; the final upload tries again
        log.warning("could not upload to %s yet (%s); trying again at the end", remote.url, exc)


def _push_after_failure(fs: Any, remote: RemoteDataDir, progress: Progress | None) -> bool:
    """Upload what a failed or stopped run finished; a failure here is logged (the run's
    own error is the one reported), and the next run uploads what is left. Return whether
    the upload succeeded."""
    try:
        _log_push(remote, push(fs, remote, progress))
    except Exception as exc:  # the run's own error goes on
        log.error(
            "could not upload to %s (%s); the files stay in %s and go up with the next run",
            remote.url,
            _reason(exc),
            remote.cache_dir,
        )
        return False
    return True


def _reach(remote: RemoteDataDir, what: str, call: Any) -> Any:
    """``call()``, with any failure of the storage client said as one clear error."""
    try:
        return call()
    except (IngestError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if what == "upload to":
            raise RemoteUploadError(
                f"cannot upload to {remote.url}: {_reason(exc)} (the run's files stay in "
                f"{remote.cache_dir} and go up with the next run here; until then the "
                "bucket's lock stays, so that no other machine buys them again)"
            ) from exc
        raise RemoteDataDirError(f"cannot {what} {remote.url}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    name = type(exc).__name__
    return text if name in text or isinstance(exc, OSError) else f"{name}: {text}"


def _log_pull(remote: RemoteDataDir, report: SyncReport, *, reader: bool = False) -> None:
    if report.files or report.deleted:
        log.info(
            "brought the working copy of %s up to date: %d file(s), %.1f MB fetched, %d removed",
            remote.url,
            report.files,
            report.bytes / 1e6,
            report.deleted,
        )
    _log_restored(remote, report)
    if report.kept_local and not reader:  # a reader's own catalog index is kept quietly
        log.warning(
            "%d file(s) changed here since the last upload (by a run stopped before it "
            "uploaded them, or a reader's catalog index) are kept and uploaded now: %s",
            len(report.kept_local),
            ", ".join(report.kept_local[:5]) + (" ..." if len(report.kept_local) > 5 else ""),
        )


def _log_restored(remote: RemoteDataDir, report: SyncReport) -> None:
    if report.restored:
        log.warning(
            "%s lost %d paid file(s) this working copy holds (paid data is never deleted "
            "automatically: to drop one for good, delete it from every working copy and "
            "the bucket): uploading them again: %s",
            remote.url,
            len(report.restored),
            ", ".join(report.restored[:5]) + (" ..." if len(report.restored) > 5 else ""),
        )


def _log_push(remote: RemoteDataDir, report: SyncReport) -> None:
    if report.files or report.deleted:
        log.info(
            "uploaded %d file(s) (%.1f MB) to %s, deleted %d",
            report.files,
            report.bytes / 1e6,
            remote.url,
            report.deleted,
        )
