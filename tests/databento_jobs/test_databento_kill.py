"""SIGKILL in the middle of a DBN conversion: no Parquet without its sidecar, and the next
run (without --force) finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from multigate.sources.databento.dbn_synthetic import write_synthetic_file
from multigate.storage.layout import sidecar_path
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import engine_files

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        raw_dir: dbn
"""


def test_sigkill_midway_leaves_no_complete_looking_output(tmp_path, write_config):
    (tmp_path / "dbn").mkdir()
    write_synthetic_file(tmp_path / "dbn/big.trades.dbn", "trades", 3_000_000)
    config = write_config(CONFIG)
    out_dir = tmp_path / "data/ingested/databento/local/schema=trades"
    command = [sys.executable, "-m", "scripts.ingest", "--config", str(config)]

    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    partial = []
    while time.monotonic() < deadline and process.poll() is None:
        partial = (
            [p for p in out_dir.glob(".*.tmp-*") if p.stat().st_size > 0]
            if out_dir.is_dir()
            else []
        )
        if partial:
            break
        time.sleep(0.002)
    assert partial, "the conversion never started writing (or finished too fast to catch)"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    output = out_dir / "big.trades.dbn.parquet"
    assert not (output.exists() and not sidecar_path(output).exists())
    assert not output.exists()

    rerun = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert engine_files(out_dir) == [
        "big.trades.dbn.parquet",
        "big.trades.dbn.parquet.source.json",
    ]
    record = read_sidecar(output)
    assert record is not None and record["rows"] == 3_000_000
    assert record["file"]["sha256"] == sha256_of(output)


def test_ctrl_c_midway_exits_130_and_cleans_up(tmp_path, write_config):
    (tmp_path / "dbn").mkdir()
    write_synthetic_file(tmp_path / "dbn/big.trades.dbn", "trades", 3_000_000)
    config = write_config(CONFIG)
    out_dir = tmp_path / "data/ingested/databento/local/schema=trades"
    command = [sys.executable, "-m", "scripts.ingest", "--config", str(config)]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if out_dir.is_dir() and any(p.stat().st_size > 0 for p in out_dir.glob(".*.tmp-*")):
            break
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert list(out_dir.iterdir()) == []  # no partial file, no orphan temp file
