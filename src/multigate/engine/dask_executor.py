"""Convert tasks on a Dask distributed cluster (imported only when ``--executor dask``).

Without a scheduler address a LocalCluster of ``workers`` processes is started here.
Every worker must see the data folder at the same path, or (an object-store data folder)
exchange files through its bucket (``bucket_staging``): a remote scheduler with a
local-only data folder is refused (see :func:`check_data_dir_reachable`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from multigate.engine.bucket_staging import BucketStager, execute_staged
from multigate.engine.executors import Call, Finished, SerialExecutor
from multigate.engine.tasks import WorkerResult, execute_convert
from multigate.errors import ConfigError, IngestError

log = logging.getLogger(__name__)


class DaskExecutor:
    same_machine = False  # workers may be elsewhere, on a shared filesystem: outputs are hashed

    def __init__(
        self, scheduler: str | None, workers: int, stager: BucketStager | None = None
    ) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.stager = stager
        """Set when the workers share no filesystem with the run: tasks go through the
        data folder's bucket (``bucket_staging``)."""
        self._client: Any = None
        self._cluster: Any = None
        self._failed: ConfigError | None = None  # a scheduler that failed once is not retried

    def prepare(self, modules: Sequence[str]) -> None:
        return None

    def run(self, calls: Sequence[Call]) -> Iterator[Finished]:
        if not calls:
            yield from SerialExecutor().run(calls)
            return
        from dask.distributed import as_completed

        client = self._connect()
        keys = [f"convert-{index}-{temp.name}" for index, (_, temp) in enumerate(calls)]
        tasks, temps = [task for task, _ in calls], [temp for _, temp in calls]
        if self.stager is None:
            futures = client.map(execute_convert, tasks, temps, pure=False, key=keys)
        else:
            plans = self.stager.plans(tasks)
            futures = client.map(execute_staged, tasks, temps, plans, pure=False, key=keys)
        index_of = {future.key: index for index, future in enumerate(futures)}
        try:
            for future in as_completed(futures):
                index = index_of[future.key]
                if future.status == "error":
                    yield index, future.exception()
                else:
                    result: WorkerResult = future.result()
                    if self.stager is not None:
                        try:
                            result = self.stager.receive(result)
                        except (IngestError, OSError) as exc:
                            yield index, exc
                            continue
                    yield index, result
        finally:
            for future in futures:
                future.cancel()

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        if self._failed is not None:
            raise self._failed
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("--executor dask needs Dask: pip install 'multigate[dask]'") from None
        if not log.isEnabledFor(logging.DEBUG):  # -v shows Dask's own chatter too
            logging.getLogger("distributed").setLevel(logging.ERROR)
        if self.scheduler:
            try:
                self._client = Client(self.scheduler, timeout="20s")
            except OSError as exc:
                self._failed = ConfigError(
                    f"cannot reach the Dask scheduler at {self.scheduler}: {exc}"
                )
                raise self._failed from None
        else:
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # no dashboard, and the scheduler's HTTP routes on a free port of this
                # machine: Dask's default (8787) would make two runs contend for it
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.CRITICAL,  # a failed task is reported once, by the engine
            )
            self._client = Client(self._cluster)
        return self._client

    def close(self) -> None:
        if self.stager is not None:
            self.stager.close()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
