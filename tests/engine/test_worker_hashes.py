"""Who hashes what: a worker hashes the inputs it converts and the outputs it writes; the
coordinator hashes inputs only to decide whether an existing output is current, and
hashes a worker's output again only when the worker may be on another machine. The
sidecars say exactly what they said when the coordinator hashed everything."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path

import pytest

from multigate.context import RunContext
from multigate.engine import run_convert_tasks
from multigate.engine.dask_executor import DaskExecutor
from multigate.engine.executors import Executor, ProcessExecutor, SerialExecutor
from multigate.engine.run import _check, _publish_one
from multigate.engine.tasks import InputRead, execute_convert, worker_temp
from multigate.errors import DataError, IngestError
from multigate.sources.base import JobFailedAfterWriting
from multigate.storage.provenance import FileDigest, fingerprint, read_sidecar
from tests.engine.test_run_tasks import make_tasks


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_worker_reports_each_input_it_read(tmp_path: Path) -> None:
    task = make_tasks(tmp_path, 1)[0]
    done = execute_convert(task, worker_temp(task.output))
    (source,) = task.inputs
    assert done.inputs == (InputRead(_sha256(source), len(source.read_bytes())),)


@pytest.mark.parametrize("workers", [1, 2])
def test_sidecars_record_the_inputs_and_fingerprint_of_the_bytes_converted(
    tmp_path: Path, workers: int
) -> None:
    """With no output yet the coordinator does not hash the inputs: the workers' hashes
    make the sidecar, the same as the coordinator's own (a re-run finds them current)."""
    executor: Executor = SerialExecutor() if workers == 1 else ProcessExecutor(workers)
    ctx = RunContext(tmp_path / "data", tmp_path, executor=executor)
    tasks = make_tasks(tmp_path, 3)
    try:
        assert run_convert_tasks(tasks, ctx).files_written == 3
        again = run_convert_tasks(tasks, ctx)
    finally:
        executor.close()
    assert (again.files_written, again.files_current) == (0, 3)
    for task in tasks:
        (source,) = task.inputs
        record = read_sidecar(task.output)
        assert record is not None
        read = FileDigest(str(source.resolve()), _sha256(source), len(source.read_bytes()))
        assert record["inputs"] == [dataclasses.asdict(read)]  # outside the data folder
        params = {"converter": "vix-csv/2", **task.params}
        assert record["fingerprint"] == fingerprint(params, [read])
        assert record["file"]["sha256"] == _sha256(task.output)


@pytest.mark.skipif(not Path("/proc/self/mem").is_file(), reason="needs Linux /proc")
@pytest.mark.parametrize("workers", [1, 2])
def test_an_unreadable_input_without_an_output_fails_its_task_not_the_others(
    tmp_path: Path, workers: int
) -> None:
    """Its worker cannot read it (an I/O error): the job fails naming it, the other tasks'
    outputs are published."""
    tasks = make_tasks(tmp_path, 3)
    bad = tasks[1].inputs[0]
    bad.unlink()
    bad.symlink_to("/proc/self/mem")  # a regular file whose read fails with EIO
    executor: Executor = SerialExecutor() if workers == 1 else ProcessExecutor(workers)
    ctx = RunContext(tmp_path / "data", tmp_path, executor=executor)
    try:
        with pytest.raises(JobFailedAfterWriting, match="cannot read") as failure:
            run_convert_tasks(tasks, ctx)
    finally:
        executor.close()
    assert "S1_History.csv" in str(failure.value)
    assert isinstance(failure.value, DataError)
    assert failure.value.done.files_written == 2
    assert [task.output.exists() for task in tasks] == [True, False, True]


def _rewrite_in_place(path: Path) -> None:
    """Other bytes of the same size (a stale cache, another writer)."""
    data = path.read_bytes()
    path.write_bytes(data[:100] + bytes(255 - byte for byte in data[100:200]) + data[200:])


@pytest.mark.parametrize("executor", [None, DaskExecutor(None, 2)], ids=["local", "dask"])
def test_an_output_changed_in_place_after_the_worker_hashed_it_is_refused(
    tmp_path: Path, executor: DaskExecutor | None
) -> None:
    """Same size: on this machine its new modification time gives it away; from Dask
    workers the coordinator hashes it again, so even a change that keeps the time is
    caught."""
    ctx = RunContext(tmp_path / "data", tmp_path, executor=executor)
    task = make_tasks(tmp_path, 1)[0]
    done = execute_convert(task, worker_temp(task.output))
    (written,) = done.files
    stamp = written.temp.stat()
    time.sleep(0.05)  # past the filesystem clock's tick: the rewrite gets a later time
    _rewrite_in_place(written.temp)
    if executor is not None:
        os.utime(written.temp, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert written.temp.stat().st_size == written.bytes
    with pytest.raises(IngestError, match="changed before it was published"):
        _publish_one(_check(task, ctx), done, ctx)
    assert not task.output.exists() and read_sidecar(task.output) is None

    done = execute_convert(task, worker_temp(task.output))  # unchanged: published
    _publish_one(_check(task, ctx), done, ctx)
    record = read_sidecar(task.output)
    assert record is not None and record["file"]["sha256"] == _sha256(task.output)
