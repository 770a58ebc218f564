"""A run stopped (SIGKILL, SIGTERM) once a paid download is fully received: the bytes are
kept, and the next run verifies and keeps them instead of buying the chunk again. Real
subprocesses of the CLI against the local fake vendor, which counts every billable call."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import databento as db
import psutil
import pyarrow.parquet as pq
import pytest
import zstandard

from multigate.exit_codes import ExitCode
from multigate.sources.databento.dbn_synthetic import encode_metadata, synthetic_records
from multigate.storage.ledger import read_ledger
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import paid_databento_yaml
from tests.fakes.databento_server import FakeDatabentoServer

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDS = 50_000
CHUNK = "data/raw/databento/dataset=XNAS.ITCH/schema=trades/stype_in=raw_symbol/symbol=AAPL"
NAME = "20240102T000000Z_20240103T000000Z.dbn.zst"
OUTPUT = "data/ingested/databento/trades/schema=trades/AAPL_20240102T000000Z_20240103T000000Z"


def job_yaml(server: FakeDatabentoServer) -> str:
    """One paid chunk: AAPL trades on 2024-01-02."""
    http = {"max_attempts": 3, "backoff_seconds": 0, "timeout_seconds": 60}
    return paid_databento_yaml(server.gateway, symbols=["AAPL"], end="2024-01-02", http=http)


@cache
def big_body() -> bytes:
    """A complete zstd DBN answer for AAPL on 2024-01-02, as the vendor would send it."""
    start = int(dt.datetime(2024, 1, 2, tzinfo=dt.UTC).timestamp()) * 10**9
    end = start + 86_400 * 10**9
    day = dt.date(2024, 1, 2)
    header = encode_metadata(
        "trades", start, end, {"AAPL": [(day, day + dt.timedelta(days=1), "1001")]}, "XNAS.ITCH"
    )
    records = synthetic_records("trades", RECORDS, 1, 0, start + 3_600 * 10**9, 7)
    records["instrument_id"] = 1001
    return zstandard.ZstdCompressor(level=1).compress(header + records.tobytes())


@pytest.fixture
def server(databento_server) -> FakeDatabentoServer:
    return databento_server(symbols=("AAPL",), records_per_day=50)


# The CLI, stopping itself (SIGSTOP) when it first opens a received paid download to read
# it: the transfer is over and verification begins. A stop at an event, not a race.
STOP_AT_VERIFY = """\
import os, signal, sys
stopped = []
def hook(event, args):
    if event == "open" and not stopped and ".paid-" in str(args[0]) and args[1] == "r":
        stopped.append(args[0])
        os.kill(os.getpid(), signal.SIGSTOP)
sys.addaudithook(hook)
from multigate.entry import start
sys.exit(start())
"""


def start_run(config: Path) -> subprocess.Popen[str]:
    """A run of ``config`` that stops itself once its download is received (see above)."""
    return subprocess.Popen(
        [sys.executable, "-c", STOP_AT_VERIFY, "--config", str(config)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def freeze_once_fully_received(process: subprocess.Popen[str], folder: Path, size: int) -> Path:
    """Wait until the run has stopped itself, its download received whole into a hidden
    file in ``folder`` (all ``size`` bytes) and not yet verified; return that file."""
    run = psutil.Process(process.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if run.status() == psutil.STATUS_STOPPED:
            (received,) = folder.glob(f".{NAME}.paid-*")
            assert received.stat().st_size == size
            return received
        time.sleep(0.01)
    process.kill()
    _, err = process.communicate()
    raise AssertionError(f"the run never stopped at its received download: {err}")


def assert_kept_and_never_bought_again(tmp_path, run_cli, server, config):
    body = big_body()
    raw = tmp_path / CHUNK / NAME
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    assert server.calls["get_range"] == 1  # the chunk was bought once, by the stopped run
    assert sha256_of(raw) == hashlib.sha256(body).hexdigest()
    sidecar = read_sidecar(raw)
    assert sidecar is not None and sidecar["file"]["sha256"] == sha256_of(raw)
    events = [e["event"] for e in read_ledger(tmp_path / "data/raw/databento/ledger.jsonl")]
    assert events.count("recovered") == 1 and "download" not in events
    assert sorted(p.name for p in (tmp_path / CHUNK).iterdir()) == [NAME, f"{NAME}.source.json"]
    rows = pq.read_metadata(tmp_path / f"{OUTPUT}.parquet").num_rows
    assert rows == len(db.DBNStore.from_file(raw).to_df()) == RECORDS


def test_sigkill_while_a_received_download_is_verified_keeps_it(
    tmp_path, write_config, run_cli, server
):
    server.script("get_range", body=big_body())
    config = write_config(job_yaml(server))
    process = start_run(config)
    leftover = freeze_once_fully_received(process, tmp_path / CHUNK, len(big_body()))
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    assert leftover.exists() and not (tmp_path / CHUNK / NAME).exists()

    assert_kept_and_never_bought_again(tmp_path, run_cli, server, config)


@pytest.mark.parametrize(
    ("stop", "code", "word"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
    ids=["sigterm", "ctrl-c"],
)
def test_sigterm_stops_like_ctrl_c_and_keeps_the_paid_bytes(
    tmp_path, write_config, run_cli, server, stop, code, word
):
    server.script("get_range", body=big_body())
    config = write_config(job_yaml(server))
    process = start_run(config)
    freeze_once_fully_received(process, tmp_path / CHUNK, len(big_body()))
    os.kill(process.pid, stop)
    os.kill(process.pid, signal.SIGCONT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, out + err[-3000:]  # 143 = 128 + SIGTERM
    assert f"{word}: finished files and received downloads are kept" in err
    assert "Traceback" not in err

    assert_kept_and_never_bought_again(tmp_path, run_cli, server, config)


def test_an_incomplete_leftover_of_a_dead_run_is_deleted_and_bought_once(
    tmp_path, write_config, run_cli, server
):
    config = write_config(job_yaml(server))
    folder = tmp_path / CHUNK
    folder.mkdir(parents=True)
    cut = server.body_for_range(
        {
            "dataset": "XNAS.ITCH",
            "schema": "trades",
            "symbols": "AAPL",
            "start": "2024-01-02T00:00:00+00:00",
            "end": "2024-01-03T00:00:00+00:00",
        }
    )
    (folder / f".{NAME}.paid-999999999-abcd").write_bytes(cut[: len(cut) // 2])
    plan = run_cli("--config", config, "--dry-run")
    assert "1 chunk(s) have a download left by an interrupted run" in plan.out
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    assert server.calls["get_range"] == 1
    assert sorted(p.name for p in folder.iterdir()) == [NAME, f"{NAME}.source.json"]
    assert (folder / NAME).read_bytes() == cut


def test_a_dead_runs_download_is_kept_when_its_pid_now_belongs_to_another_process(
    tmp_path, write_config, run_cli, server
):
    """PID reuse: the leftover names a PID that runs again, but that process started after
    the file was last written, so it is not the writer: the bytes are verified and kept."""
    config = write_config(job_yaml(server))
    folder = tmp_path / CHUNK
    folder.mkdir(parents=True)
    body = server.body_for_range(
        {
            "dataset": "XNAS.ITCH",
            "schema": "trades",
            "symbols": "AAPL",
            "start": "2024-01-02T00:00:00+00:00",
            "end": "2024-01-03T00:00:00+00:00",
        }
    )
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        leftover = folder / f".{NAME}.paid-{other.pid}-abcd"
        leftover.write_bytes(body)
        an_hour_ago = time.time() - 3600  # the dead run wrote it before `other` started
        os.utime(leftover, (an_hour_ago, an_hour_ago))
        result = run_cli("--config", config)
        assert result.code == ExitCode.OK, result.err
        assert server.calls["get_range"] == 0  # not bought again
        assert (folder / NAME).read_bytes() == body and not leftover.exists()
    finally:
        other.kill()
        other.wait()


def test_paid_leftovers_of_chunks_no_job_plans_are_listed_and_kept(
    tmp_path, write_config, run_cli, server
):
    config = write_config(job_yaml(server))
    folder = tmp_path / CHUNK
    folder.mkdir(parents=True)
    orphan = folder / ".20230102T000000Z_20230103T000000Z.dbn.zst.paid-999999999-abcd"
    orphan.write_bytes(b"x" * 12_345)  # a chunk of a range the job no longer has
    plan = run_cli("--config", config, "--dry-run")
    listed = f"{orphan} (12,345 bytes)"
    assert "1 paid download(s) left by interrupted runs for chunks no job plans" in plan.out
    assert listed in plan.out.replace("\n", "")
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    assert "1 paid download(s) left by interrupted runs" in result.out  # the summary
    assert listed in result.err.replace("\n", "")  # the log: full paths
    assert orphan.read_bytes() == b"x" * 12_345  # paid bytes are never deleted silently
