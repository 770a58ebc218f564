"""The engine's API directly: tasks in, published outputs and a JobResult out; the
progress display shows each running task."""

from __future__ import annotations

from pathlib import Path

import pytest

from multigate.context import RunContext
from multigate.engine import ConvertTask, run_convert_tasks
from multigate.engine.executors import ProcessExecutor, SerialExecutor
from multigate.errors import DataError, IngestError
from multigate.progress import ProgressTask
from multigate.sources.vix.convert import convert_symbol
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import engine_outputs
from tests.engine.crashing_convert import die_in_worker
from tests.vix.helpers import cboe_bytes


class RecordingProgress:
    """Records which lines are shown, and how many task lines are open at once."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.open_now = 0
        self.most_open = 0

    def task(self, description: str, total: float | None = None) -> ProgressTask:
        return _Line(self, description)


class _Line:
    def __init__(self, owner: RecordingProgress, description: str) -> None:
        self.owner, self.description = owner, description

    def __enter__(self) -> _Line:
        self.owner.shown.append(self.description)
        if self.description.startswith("  "):
            self.owner.open_now += 1
            self.owner.most_open = max(self.owner.most_open, self.owner.open_now)
        return self

    def advance(self, amount: float = 1) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        if self.description.startswith("  "):
            self.owner.open_now -= 1


def make_tasks(tmp_path: Path, count: int, bad: int | None = None) -> list[ConvertTask]:
    tasks = []
    for index in range(count):
        symbol = f"S{index}"
        source = tmp_path / "in" / f"{symbol}_History.csv"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(b"DATE,OPEN\n" if index == bad else cboe_bytes(seed=index, days=300))
        tasks.append(
            ConvertTask(
                inputs=(source,),
                output=tmp_path / "data/ingested/vix/t" / f"{symbol}.parquet",
                converter="vix-csv",
                converter_version="2",
                convert=convert_symbol,
                params={"symbol": symbol, "start": None, "end": None},
                source="vix",
                job="t",
                mode="offline",
                query={"name": "t"},
            )
        )
    return tasks


@pytest.mark.parametrize("executor", [SerialExecutor(), ProcessExecutor(2)], ids=["1", "2"])
def test_each_running_task_has_a_progress_line(tmp_path, executor):
    progress = RecordingProgress()
    ctx = RunContext(tmp_path / "data", tmp_path, progress=progress, executor=executor)
    try:
        result = run_convert_tasks(make_tasks(tmp_path, 5), ctx)
    finally:
        executor.close()
    assert result.files_written == 5 and result.rows == 5 * 300
    assert progress.shown[0] == "t: convert"
    assert sorted(progress.shown[1:]) == [f"  t: S{index}.parquet" for index in range(5)]
    assert 1 <= progress.most_open <= executor.workers
    assert progress.open_now == 0


def test_without_all_or_nothing_the_good_outputs_are_published(tmp_path):
    ctx = RunContext(tmp_path / "data", tmp_path, executor=SerialExecutor())
    tasks = make_tasks(tmp_path, 4, bad=2)
    with pytest.raises(DataError, match=r"S2_History\.csv"):
        run_convert_tasks(tasks, ctx)
    for index, task in enumerate(tasks):
        if index == 2:
            assert not task.output.exists()
            continue
        record = read_sidecar(task.output)
        assert record is not None and record["file"]["sha256"] == sha256_of(task.output)
        assert record["fingerprint"] and record["extra"]["converter"] == "vix-csv/2"


def test_all_or_nothing_publishes_none_when_one_fails(tmp_path):
    ctx = RunContext(tmp_path / "data", tmp_path, executor=SerialExecutor())
    with pytest.raises(DataError, match=r"S1_History\.csv"):
        run_convert_tasks(make_tasks(tmp_path, 3, bad=1), ctx, all_or_nothing=True)
    assert not list(engine_outputs(tmp_path / "data", recursive=True))
    assert not [path for path in (tmp_path / "data").rglob("*") if path.is_file()]


def crash_tasks(tmp_path: Path, die: set[int]) -> list[ConvertTask]:
    (tmp_path / "in.txt").write_bytes(b"x")
    return [
        ConvertTask(
            inputs=(tmp_path / "in.txt",),
            output=tmp_path / "data/ingested/t/j" / f"out{index}.bin",
            converter="crash",
            converter_version="1",
            convert=die_in_worker,
            params={"die": index in die, "index": index},
            source="t",
            job="j",
            mode="offline",
            query={},
        )
        for index in range(3)
    ]


def test_a_worker_that_dies_fails_the_job_clearly_and_the_next_job_gets_a_new_pool(tmp_path):
    executor = ProcessExecutor(2)
    ctx = RunContext(tmp_path / "data", tmp_path, executor=executor)
    try:
        with pytest.raises(IngestError, match="a worker process died") as failure:
            run_convert_tasks(crash_tasks(tmp_path, die={1}), ctx, all_or_nothing=True)
        assert "out1.bin" in str(failure.value) and "Broken" not in str(failure.value)
        assert not [path for path in (tmp_path / "data").rglob("*") if path.is_file()]
        result = run_convert_tasks(crash_tasks(tmp_path, die=set()), ctx, all_or_nothing=True)
    finally:
        executor.close()
    assert result.files_written == 3


def test_the_coordinator_publishes_only_what_the_worker_wrote(tmp_path):
    from multigate.engine.run import _check, _publish_one
    from multigate.engine.tasks import execute_convert

    ctx = RunContext(tmp_path / "data", tmp_path)
    task = make_tasks(tmp_path, 1)[0]
    temp = task.output.with_name(".S0.parquet.work.tmp-1-test")
    done = execute_convert(task, temp)
    assert (done.files[0].sha256, done.files[0].bytes) == (sha256_of(temp), temp.stat().st_size)
    with temp.open("ab") as handle:  # changed on its way (say, a stale shared-FS cache)
        handle.write(b"garbage")
    with pytest.raises(IngestError, match="changed before it was published"):
        _publish_one(_check(task, ctx), done, ctx)
    assert not task.output.exists()

    done = execute_convert(task, temp)
    _publish_one(_check(task, ctx), done, ctx)
    record = read_sidecar(task.output)
    assert record is not None and record["file"]["sha256"] == done.files[0].sha256
