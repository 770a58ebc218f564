"""Two runs on one data folder: the second stops at once and touches nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from multigate.exit_codes import ExitCode
from multigate.storage.atomic import remove_stale_temps
from multigate.storage.run_lock import LOCK_NAME

CONFIG = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        path: in/*.csv
"""

HOLD_LOCK = (
    "import sys, time; from pathlib import Path; from multigate.storage.run_lock import run_lock\n"
    "with run_lock(Path(sys.argv[1])):\n"
    "    print('held', flush=True); time.sleep(30)\n"
)


def test_second_run_is_refused_while_the_first_holds_the_folder(tmp_path, write_config, run_cli):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/VIX_History.csv").write_text("DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2004,1,1,1,1\n")
    config = write_config(CONFIG)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "data")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run_cli("--config", config)
        assert result.code == ExitCode.LOCKED
        assert "another run is using" in result.err
        assert not (tmp_path / "data/ingested").exists()
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("--config", config).code == ExitCode.OK
    assert (tmp_path / "data" / LOCK_NAME).exists()


def test_temp_files_of_live_writers_are_left_alone(tmp_path):
    target = tmp_path / "x.parquet"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".x.parquet.tmp-{sleeper.pid}-abcd"
        dead = tmp_path / ".x.parquet.tmp-999999999-abcd"
        live.write_bytes(b"in progress")
        dead.write_bytes(b"left by a killed run")
        assert remove_stale_temps(target) == 1
        assert live.exists() and not dead.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    time.sleep(0)
    assert os.path.exists(live)


def test_a_temp_file_whose_pid_was_reused_counts_as_dead(tmp_path):
    """The PID in the name runs again, but that process started after the file was last
    written (Linux: /proc start time), so the writer is dead and the file is retired."""
    target = tmp_path / "x.parquet"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        reused = tmp_path / f".x.parquet.tmp-{sleeper.pid}-abcd"
        reused.write_bytes(b"left by a killed run")
        an_hour_ago = time.time() - 3600
        os.utime(reused, (an_hour_ago, an_hour_ago))
        assert remove_stale_temps(target) == 1
        assert not reused.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


# A run on another data folder, inside this one: it holds its own lock and writes a temp file.
WRITE_AND_HOLD = (
    "import sys, time; from pathlib import Path\n"
    "from multigate.storage.atomic import atomic_path\n"
    "from multigate.storage.run_lock import run_lock\n"
    "root = Path(sys.argv[1])\n"
    "with run_lock(root), atomic_path(root / 'ingested/vix/local/VIX.parquet') as tmp:\n"
    "    tmp.write_bytes(b'half written'); print(tmp, flush=True); time.sleep(30)\n"
)


def test_a_run_on_a_parent_folder_leaves_a_live_runs_temp_files_alone(
    tmp_path, write_config, run_cli
):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/VIX_History.csv").write_text("DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2004,1,1,1,1\n")
    config = write_config(CONFIG)
    dead = tmp_path / "data/elsewhere/.old.parquet.tmp-999999999-abcd"
    dead.parent.mkdir(parents=True)
    dead.write_bytes(b"left by a killed run")
    inner = subprocess.Popen(
        [sys.executable, "-c", WRITE_AND_HOLD, str(tmp_path / "data/inner")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert inner.stdout is not None
        live = Path(inner.stdout.readline().strip())
        assert live.name.startswith(".VIX.parquet.tmp-") and live.exists()
        result = run_cli("--config", config)  # data_dir: data, the inner run's parent
        assert result.code == ExitCode.OK, result.err
        assert live.read_bytes() == b"half written"  # the live writer's file is untouched
        assert not dead.exists()  # a dead writer's leftovers still go
        assert inner.poll() is None
    finally:
        inner.kill()
        inner.wait()
