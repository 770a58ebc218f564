"""An unusable data folder is a config error naming file, line and key (exit 2), found
before anything runs: never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from multigate.exit_codes import ExitCode
from multigate.sample.vix import cboe_csv, synthetic_history

REPO_ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        path: in/VIX_History.csv
data_dir: {data_dir}
"""


@pytest.fixture
def vix_input(tmp_path: Path) -> Path:
    source = tmp_path / "in/VIX_History.csv"
    source.parent.mkdir()
    source.write_bytes(cboe_csv(synthetic_history(days=30)))
    return source


@pytest.mark.parametrize(
    ("data_dir", "words"),
    [
        ("afile", "it is a file, not a folder"),
        ("afile/data", "afile is a file, not a folder"),
        ('"da\\0ta"', "the path holds a NUL character"),
        ("x" * 300, "is longer than the file system allows (255 bytes)"),
        ("/".join(["y" * 200] * 25), "the path is too long"),
    ],
)
def test_unusable_data_dir_is_a_config_error(
    tmp_path, vix_input, write_config, run_cli, data_dir, words
):
    (tmp_path / "afile").write_text("not a folder\n")
    config = write_config(CONFIG.format(data_dir=data_dir))
    for extra in ([], ["--dry-run"]):
        result = run_cli("--config", config, *extra)
        assert result.code == ExitCode.CONFIG_ERROR, result.err
        assert "Traceback" not in result.err
        assert f"{config}:9: data_dir: " in result.err
        assert words in result.err


def _can_mount_read_only(folder: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && "
         f"mount -o remount,bind,ro {folder} && ! touch {folder}/probe 2>/dev/null"],
        capture_output=True,
    )  # fmt: skip
    return probe.returncode == 0


def test_read_only_file_system_is_a_config_error(tmp_path, vix_input, write_config):
    data = tmp_path / "data"
    data.mkdir()
    if not _can_mount_read_only(data):
        pytest.skip("cannot make a read-only mount here (needs root and mount namespaces)")
    config = write_config(CONFIG.format(data_dir="data"))
    # A real read-only bind mount, in a mount namespace of the run's own (gone with it).
    script = (
        f"mount --bind {data} {data} && mount -o remount,bind,ro {data} && "
        f'exec "{sys.executable}" -m scripts.ingest --config {config}'
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == ExitCode.CONFIG_ERROR, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{config}:9: data_dir: '{data}' cannot be used:" in result.stderr
    assert "read-only file system" in result.stderr
    assert list(data.iterdir()) == []
