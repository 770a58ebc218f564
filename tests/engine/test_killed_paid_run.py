"""SIGKILL of a ``--workers 2`` run of a paid Databento job (six chunks) while a received
download is being verified, or while the workers (a pool, or a Dask cluster that outlives
the run) convert: nothing half-written is visible, the re-run heals the folder to a clean
run's bytes (no temporary file left), and the fake vendor sees each chunk's billable call
exactly once across both runs."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import psutil
import pytest
import zstandard

from multigate.exit_codes import ExitCode
from multigate.sources.databento.dbn_synthetic import encode_metadata, synthetic_records
from multigate.storage.layout import sidecar_path
from multigate.storage.ledger import read_ledger
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import REPO_ROOT, CliRun, engine_outputs, paid_databento_yaml
from tests.engine.helpers import leftovers
from tests.fakes.databento_server import FakeDatabentoServer

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")

SYMBOLS = {"AAPL": 1001, "MSFT": 1002}  # the fake's instrument ids
DAYS = (dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4))
RECORDS = 600_000  # per chunk: verifying and converting one takes a moment
RAW = "raw/databento/dataset=XNAS.ITCH/schema=trades/stype_in=raw_symbol"
OUT = "ingested/databento/trades"

HTTP = {"max_attempts": 3, "backoff_seconds": 0, "timeout_seconds": 60}

WriteConfig = Callable[[str], Path]
RunCli = Callable[..., CliRun]


@pytest.fixture
def server(databento_server) -> FakeDatabentoServer:
    return databento_server(symbols=tuple(SYMBOLS), records_per_day=50)


@cache
def vendor_body(symbol: str, day: dt.date) -> bytes:
    """A complete zstd DBN answer for ``symbol`` on ``day``, as the vendor would send it."""
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 10**9
    mapping = {symbol: [(day, day + dt.timedelta(days=1), str(SYMBOLS[symbol]))]}
    header = encode_metadata("trades", start, start + 86_400 * 10**9, mapping, "XNAS.ITCH")
    seed = SYMBOLS[symbol] * 100 + day.day
    records = synthetic_records("trades", RECORDS, 1, 0, start + 3_600 * 10**9, seed)
    records["instrument_id"] = SYMBOLS[symbol]
    return zstandard.ZstdCompressor(level=1).compress(header + records.tobytes())


def chunk_name(day: dt.date) -> str:
    return f"{day:%Y%m%d}T000000Z_{day + dt.timedelta(days=1):%Y%m%d}T000000Z.dbn.zst"


def serve_every_chunk(server: FakeDatabentoServer) -> None:
    """Queue the answers in the order a run asks for them (symbol by symbol, day by day)."""
    for symbol in SYMBOLS:
        for day in DAYS:
            server.script("get_range", body=vendor_body(symbol, day))


def billable_calls(server: FakeDatabentoServer) -> Counter[tuple[str, str]]:
    return Counter(
        (form["symbols"], form["start"][:10])
        for endpoint, form in server.requests
        if endpoint == "get_range"
    )


def published(data: Path) -> dict[str, object]:
    """Every raw chunk and output: its bytes, and its sidecar without its run's times."""
    found: dict[str, object] = {}
    for path in sorted(
        [*(data / RAW).rglob("*.dbn.zst"), *engine_outputs(data / OUT, recursive=True)]
    ):
        record = json.loads(sidecar_path(path).read_text())
        record.pop("created_at")
        record.get("extra", {}).pop("fetched_at", None)
        found[str(path.relative_to(data))] = (path.read_bytes(), record)
    return found


def complete_and_described(path: Path) -> bool:
    record = read_sidecar(path)
    return record is not None and record["file"]["sha256"] == sha256_of(path)


def wait_for_received_download(process: subprocess.Popen[bytes], data: Path) -> None:
    """SIGSTOP the run once the second chunk's answer is wholly in its hidden file (the
    transfer is over, verification under way), before it is kept under its name."""
    folder = data / RAW / "symbol=AAPL"
    name, size = chunk_name(DAYS[1]), len(vendor_body("AAPL", DAYS[1]))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        for candidate in folder.glob(f".{name}.paid-*") if folder.is_dir() else ():
            try:
                if candidate.stat().st_size == size:
                    os.kill(process.pid, signal.SIGSTOP)
                    return
            except FileNotFoundError:
                continue
        time.sleep(0.001)
    raise AssertionError("the second download never completed (or was kept too fast)")


def wait_for_worker_temps(process: subprocess.Popen[bytes], data: Path) -> None:
    """Return once a worker is writing an output's temporary file."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (data / OUT).is_dir() and any(".work.tmp-" in p.name for p in leftovers(data / OUT)):
            return
        time.sleep(0.002)
    raise AssertionError("the run finished (or never converted) before it could be killed")


KILL_POINTS = {
    "download-received": wait_for_received_download,
    "workers-convert": wait_for_worker_temps,
}


def kill_run(config: Path, when: str, data: Path, executor_args: list[str]) -> None:
    """Start a run, SIGKILL it at ``when``; its pool's workers must end with it."""
    command = [sys.executable, "-m", "scripts.ingest", "--config", str(config), *executor_args]
    coordinator = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    workers: list[psutil.Process] = []
    try:
        KILL_POINTS[when](coordinator, data)
        workers = psutil.Process(coordinator.pid).children(recursive=True)
        os.kill(coordinator.pid, signal.SIGKILL)
        coordinator.wait(timeout=60)
        _gone, alive = psutil.wait_procs(workers, timeout=15)
        assert alive == [], "workers outlived the killed run"
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
            coordinator.wait()
        for process in workers:
            if process.is_running():
                process.kill()


def wait_until_the_cluster_is_idle(scheduler: str) -> None:
    """Return once no Dask worker still runs a task (the killed run's tasks run on)."""
    distributed = pytest.importorskip("distributed")
    deadline = time.monotonic() + 120
    with distributed.Client(scheduler, timeout="20s") as client:
        while time.monotonic() < deadline:
            if not any(client.run(_tasks_running).values()):
                return
            time.sleep(0.05)
    raise AssertionError("the cluster's workers never finished the killed run's tasks")


def _tasks_running(dask_worker: Any) -> int:
    return len(dask_worker.state.executing) + len(dask_worker.state.long_running)


@pytest.mark.parametrize(
    ("executor", "when"),
    [("2", "download-received"), ("2", "workers-convert"), ("dask", "workers-convert")],
)
def test_a_killed_paid_parallel_run_heals_and_buys_no_chunk_twice(
    tmp_path: Path,
    write_config: WriteConfig,
    run_cli: RunCli,
    server: FakeDatabentoServer,
    request: pytest.FixtureRequest,
    executor_args: Callable[[str], list[str]],
    executor: str,
    when: str,
) -> None:
    args = executor_args(executor)
    scheduler = request.getfixturevalue("dask_scheduler") if executor == "dask" else ""
    serve_every_chunk(server)
    config = write_config(paid_databento_yaml(server.gateway, http=HTTP))
    data = tmp_path / "data"
    kill_run(config, when, data, args)
    if scheduler:  # its workers finish what they were converting, for a run that is gone
        wait_until_the_cluster_is_idle(scheduler)

    killed_calls = billable_calls(server)
    if when == "download-received":
        assert sum(killed_calls.values()) == 2  # the kill came before the third chunk
        second = data / RAW / "symbol=AAPL" / chunk_name(DAYS[1])
        assert not second.exists() and list(second.parent.glob(f".{second.name}.paid-*"))
    else:
        assert sum(killed_calls.values()) == 6  # every download done, converting
        assert leftovers(data), "the kill came after the run, not while workers converted"
    finals = [p for p in data.rglob("*") if p.is_file() and not p.name.startswith(".")]
    made = [p for p in finals if p.name.endswith((".dbn.zst", ".parquet"))]
    assert all(complete_and_described(path) for path in made)  # all or nothing

    healed = run_cli("--config", config, *args)
    assert healed.code == ExitCode.OK, healed.err
    calls = billable_calls(server)
    assert calls == Counter({(s, f"{d:%Y-%m-%d}"): 1 for s in SYMBOLS for d in DAYS})
    events = Counter(record["event"] for record in read_ledger(data / "raw/databento/ledger.jsonl"))
    assert events["attempt"] == 6 and events["download"] + events["recovered"] == 6
    assert events["recovered"] == (1 if when == "download-received" else 0)
    assert leftovers(data) == []
    assert not [path for path in data.rglob("*") if ".paid-" in path.name]

    serve_every_chunk(server)  # a clean run, for reference
    clean = write_config(paid_databento_yaml(server.gateway, data_dir="clean", http=HTTP))
    assert run_cli("--config", clean, "--workers", "1").code == ExitCode.OK
    result = published(data)
    assert len(result) == 12  # 6 raw chunks, 6 outputs
    assert result == published(tmp_path / "clean")
