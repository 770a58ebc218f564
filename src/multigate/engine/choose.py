"""Pick the run's executor from the ``engine:`` block and the command line."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from multigate.config.models import EngineSettings
from multigate.engine.executors import Executor, ProcessExecutor, SerialExecutor, default_workers
from multigate.errors import ConfigError
from multigate.storage.remote.location import RemoteDataDir

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}
DASK_PORT = 8786  # a scheduler address without a port means this one
PROBE_SECONDS = 5.0


def scheduler_is_local(address: str) -> bool:
    """Whether a Dask scheduler address is on this machine (a LocalCluster's is)."""
    if address.startswith("inproc://"):
        return True
    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    return host in _LOCAL_HOSTS


def check_data_dir_reachable(
    settings: EngineSettings, data_dir: Path, remote: RemoteDataDir | None = None
) -> None:
    """Refuse a remote scheduler when the data folder is a path only this machine sees."""
    scheduler = settings.scheduler
    if scheduler is None or scheduler_is_local(scheduler) or settings.shared_filesystem:
        return
    if remote is not None:
        return  # its workers exchange files through the bucket
    raise ConfigError(
        f"the Dask scheduler {scheduler} is on another machine, but the data folder "
        f"{data_dir} is a local path its workers cannot reach: put data_dir on a filesystem "
        "every worker mounts at the same path and set 'engine: shared_filesystem: true', "
        "make data_dir a bucket (s3://...: workers exchange files through it), or run "
        "without --scheduler (a local Dask cluster)"
    )


def workers_see_no_data_dir(settings: EngineSettings) -> bool:
    """Whether the Dask workers are on other machines, without a shared filesystem."""
    scheduler = settings.scheduler
    return (
        scheduler is not None
        and not scheduler_is_local(scheduler)
        and not settings.shared_filesystem
    )


def check_scheduler_answers(address: str, timeout: float = PROBE_SECONDS) -> None:
    """Refuse, once and before any job, a scheduler whose TCP port does not answer (tcp://
    and tls:// addresses; others are left to Dask). Raises ConfigError naming the address."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls"):
        return
    try:
        port = parts.port or DASK_PORT
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"cannot reach the Dask scheduler at {address}: {reason or 'no answer'}"
        ) from None


def make_executor(
    settings: EngineSettings,
    data_dir: Path,
    *,
    remote: RemoteDataDir | None = None,
    env: Mapping[str, str] | None = None,
) -> Executor:
    """The executor ``settings`` ask for: a Dask scheduler's address is checked here, but
    nothing starts until the first task runs. Workers on other machines of an
    object-store data folder (``remote``; its credentials in ``env``) exchange files
    through its bucket."""
    workers = settings.workers or default_workers()
    if settings.executor == "dask":
        check_data_dir_reachable(settings, data_dir, remote)
        if settings.scheduler is not None:
            check_scheduler_answers(settings.scheduler)
        from multigate.engine.dask_executor import DaskExecutor

        stager = None
        if remote is not None and workers_see_no_data_dir(settings):
            from multigate.engine.bucket_staging import BucketStager

            stager = BucketStager(remote, env if env is not None else os.environ)
        return DaskExecutor(settings.scheduler, workers, stager)
    if settings.scheduler is not None:
        raise ConfigError("--scheduler needs --executor dask (engine: executor: dask)")
    return SerialExecutor() if workers == 1 else ProcessExecutor(workers)
