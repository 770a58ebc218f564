"""No reader ever sees an output at its final name without its sidecar: the sidecar goes in
place first, then the file. Runs are SIGKILLed exactly at each move (an audit hook on
``os.rename``/``os.replace`` in the child), and a reader polls while a writer publishes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from multigate.sample.vix import cboe_csv, synthetic_history
from multigate.storage.layout import SIDECAR_SUFFIX, sidecar_path
from multigate.storage.provenance import is_current, read_sidecar, sha256_of
from tests.conftest import engine_files, paid_databento_yaml
from tests.fakes.databento_server import FakeDatabentoServer

REPO_ROOT = Path(__file__).resolve().parents[2]

# ``python -m scripts.ingest`` that SIGKILLs itself the moment it moves a file whose final
# name ends with KILL_AT (before the move happens).
KILLED_AT_MOVE = """\
import os, signal, sys
suffix = os.environ["KILL_AT"]
def hook(event, args):
    if event == "os.rename" and str(args[1]).endswith(suffix):
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
from multigate.cli import main
sys.exit(main(sys.argv[1:]))
"""

VIX_CONFIG = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        path: in/VIX_History.csv
"""


def ingest(config: Path, kill_at: str | None = None, env: dict[str, str] | None = None):
    environment = dict(env or os.environ)
    if kill_at is not None:
        environment["KILL_AT"] = kill_at
    command = ["-c", KILLED_AT_MOVE] if kill_at else ["-m", "scripts.ingest"]
    return subprocess.run(
        [sys.executable, *command, "--config", str(config), "--yes"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def files_without_sidecar(root: Path, pattern: str) -> list[Path]:
    """Data files at a final name (not temporary) whose sidecar is missing."""
    return [
        path
        for path in root.rglob(pattern)
        if not path.name.startswith(".") and not sidecar_path(path).exists()
    ]


@pytest.mark.parametrize("kill_at", [".parquet" + SIDECAR_SUFFIX, ".parquet"])
def test_killed_at_either_move_no_output_without_sidecar_and_rerun_recovers(
    tmp_path, write_config, kill_at
):
    source = tmp_path / "in/VIX_History.csv"
    source.parent.mkdir()
    source.write_bytes(cboe_csv(synthetic_history(days=2_000)))
    config = write_config(VIX_CONFIG)
    output = tmp_path / "data/ingested/vix/local/VIX.parquet"

    killed = ingest(config, kill_at=kill_at)
    assert killed.returncode == -9, killed.stderr
    assert files_without_sidecar(tmp_path / "data/ingested", "*.parquet") == []

    rerun = ingest(config)
    assert rerun.returncode == 0, rerun.stderr
    assert engine_files(output.parent) == [
        "VIX.parquet",
        "VIX.parquet.source.json",
    ]
    record = read_sidecar(output)
    assert record is not None and record["rows"] == 2_000
    assert is_current(output, record["fingerprint"])


@pytest.fixture
def databento(databento_server) -> FakeDatabentoServer:
    return databento_server(symbols=("AAPL",), records_per_day=50, usd_per_record=0.001)


@pytest.mark.parametrize("kill_at", [".dbn.zst" + SIDECAR_SUFFIX, ".dbn.zst"])
def test_paid_chunk_killed_at_either_move_is_kept_not_bought_again(
    tmp_path, write_config, databento, kill_at
):
    config = write_config(
        paid_databento_yaml(
            databento.gateway,
            symbols=["AAPL"],
            end="2024-01-02",
            http={"max_attempts": 1, "backoff_seconds": 0},
            rails={"require_confirm": False, "max_cost_usd": 1.0},
        )
    )
    env = {**os.environ, **databento.client_env(), "DATABENTO_API_KEY": databento.key}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    raw_root = tmp_path / "data/raw/databento"

    killed = ingest(config, kill_at=kill_at, env=env)
    assert killed.returncode == -9, killed.stderr
    assert databento.calls["get_range"] == 1
    assert files_without_sidecar(raw_root, "*.dbn.zst") == []
    assert not list(raw_root.rglob("*.dbn.zst"))  # the file moves in last

    rerun = ingest(config, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert databento.calls["get_range"] == 1  # the paid bytes were kept, not bought again
    (chunk,) = raw_root.rglob("*.dbn.zst")
    record = read_sidecar(chunk)
    assert record is not None and record["file"]["sha256"] == sha256_of(chunk)
    assert not [p for p in chunk.parent.iterdir() if ".tmp-" in p.name]


WRITER = """\
import sys
from pathlib import Path
from multigate.storage.provenance import Provenance
from multigate.storage.publish import publish_file

folder = Path(sys.argv[1])
for i in range(int(sys.argv[2])):
    publish_file(
        folder / f"part-{i:04d}.parquet",
        lambda tmp: tmp.write_bytes(bytes(4 << 20)),
        lambda digest: Provenance("ingested", "test", "job", "offline", {}, digest, "x"),
        data_dir=folder,
    )
"""


def test_a_reader_never_lists_an_output_before_its_sidecar(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    files = 40
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder), str(files)],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[str] = set()
    naked: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = writer.poll() is not None
        for entry in os.scandir(folder):
            name = entry.name
            if name.endswith(".parquet") and not name.startswith(".") and name not in seen:
                seen.add(name)
                if not (folder / (name + SIDECAR_SUFFIX)).exists():
                    naked.append(name)
        if done:
            break
    assert writer.wait() == 0, writer.stderr.read() if writer.stderr else ""
    assert len(seen) == files
    assert naked == []


def test_a_sidecar_without_its_file_is_absent_and_pruned(tmp_path, write_config):
    source = tmp_path / "in/VIX_History.csv"
    source.parent.mkdir()
    source.write_bytes(cboe_csv(synthetic_history(days=50)))
    config = write_config(VIX_CONFIG)
    assert ingest(config).returncode == 0
    output = tmp_path / "data/ingested/vix/local/VIX.parquet"
    orphan = output.with_name("VIX9D.parquet")  # its run stopped before the file moved in
    sidecar_path(orphan).write_bytes(sidecar_path(output).read_bytes())
    record = read_sidecar(orphan)
    assert record is not None and not is_current(orphan, record["fingerprint"])

    source.write_bytes(cboe_csv(synthetic_history(days=60)))  # new input: the job runs
    assert ingest(config).returncode == 0
    assert engine_files(output.parent) == [
        "VIX.parquet",
        "VIX.parquet.source.json",
    ]
