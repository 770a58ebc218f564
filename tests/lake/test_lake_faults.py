"""Faults around a table's commit: a run killed while it commits, a stray object in a
table's folder, a hand-edited record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from multigate import Catalog
from multigate.exit_codes import ExitCode
from multigate.storage.delta_tables import is_versioned_name
from tests.conftest import REPO_ROOT
from tests.engine.helpers import CONFIG, OUT, write_many_symbols


def _engine_rows(folder: Path) -> int:
    outputs = [p for p in folder.glob("*.parquet") if not is_versioned_name(p.name)]
    return sum(pq.read_metadata(p).num_rows for p in outputs)


def _wait_for_first_link(folder: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if folder.is_dir() and any(".v-" in name for name in os.listdir(folder)):
            return
        time.sleep(0.001)
    raise AssertionError("the run ended (or never committed) before it could be killed")


def test_a_run_killed_while_it_commits_leaves_a_whole_version_and_the_next_run_heals(
    tmp_path, write_config, run_cli
):
    write_many_symbols(tmp_path / "in", symbols=150, days=300)
    config = write_config(CONFIG.format(data="data"))
    folder = tmp_path / "data" / OUT
    command = [sys.executable, "-m", "scripts.ingest", "--config", str(config), "--workers", "1"]
    run = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    try:
        _wait_for_first_link(folder, run)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
    finally:
        if run.poll() is None:
            run.kill()
    # a reader sees no table yet, or a whole version (every file it names is there)
    if (folder / "_delta_log").is_dir():
        for uri in DeltaTable(str(folder)).file_uris():
            assert Path(uri).is_file()
    healed = run_cli("--config", config)
    assert healed.code == ExitCode.OK, healed.err
    table = DeltaTable(str(folder))
    assert table.to_pyarrow_dataset().count_rows() == _engine_rows(folder)
    assert Catalog.open(tmp_path / "data").read("vix/many").num_rows == _engine_rows(folder)
    again = run_cli("--config", config)  # nothing left to do: no further commit
    assert again.code == ExitCode.OK and DeltaTable(str(folder)).version() == table.version()


@pytest.mark.parametrize("stray", ["junk.parquet", "VIX.parquet.v-zz/child", "notes.txt"])
def test_a_stray_object_in_a_table_folder_is_ignored(tmp_path, write_config, run_cli, stray):
    write_many_symbols(tmp_path / "in", symbols=3, days=200)
    config = write_config(CONFIG.format(data="data"))
    assert run_cli("--config", config).code == ExitCode.OK
    folder = tmp_path / "data" / OUT
    path = folder / stray
    path.parent.mkdir(parents=True, exist_ok=True)
    if stray.endswith(".parquet"):
        pq.write_table(pa.table({"x": [1, 2, 3]}), path)
    else:
        path.write_text("not data")
    expected = _engine_rows(folder) - (3 if stray == "junk.parquet" else 0)
    assert Catalog.open(tmp_path / "data").read("vix/many").num_rows == expected
    assert run_cli("--config", config).code == ExitCode.OK
    assert DeltaTable(str(folder)).to_pyarrow_dataset().count_rows() == expected
    assert path.exists()  # never ours to delete
