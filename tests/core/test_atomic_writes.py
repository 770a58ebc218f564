"""A run killed mid-write leaves no data file without its sidecar; the next run recovers."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from multigate.sample.vix import cboe_csv, synthetic_history
from multigate.storage.atomic import atomic_path
from multigate.storage.layout import sidecar_path
from multigate.storage.provenance import is_current, read_sidecar, sha256_of
from tests.conftest import engine_files

REPO_ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
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


# ``python -m scripts.ingest``, except that a write past RLIMIT_FSIZE kills the process
# (CPython ignores SIGXFSZ by default, turning it into an ordinary "File too large" error).
KILLABLE_INGEST = (
    "import signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_DFL); "
    "from multigate.cli import main; sys.exit(main(sys.argv[1:]))"
)


def run_ingest(
    config: Path, file_size_limit: int | None = None, *, killable: bool = False
) -> subprocess.CompletedProcess:
    def limit() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    command = ["-c", KILLABLE_INGEST] if killable else ["-m", "scripts.ingest"]
    return subprocess.run(
        [sys.executable, *command, "--config", str(config)],
        cwd=REPO_ROOT,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_killed_conversion_leaves_no_complete_looking_file_and_rerun_recovers(
    tmp_path, write_config
):
    source = tmp_path / "in/VIX_History.csv"
    source.parent.mkdir()
    source.write_bytes(cboe_csv(synthetic_history(days=20_000)))
    config = write_config(CONFIG)
    output = tmp_path / "data/ingested/vix/local/VIX.parquet"

    # The kernel kills the process (SIGXFSZ) when the Parquet write passes 64 KiB: a
    # conversion killed midway, at a deterministic point.
    killed = run_ingest(config, file_size_limit=64 * 1024, killable=True)
    assert killed.returncode == -signal.SIGXFSZ, killed.stderr
    assert not output.exists()
    assert not sidecar_path(output).exists()
    leftovers = [p.name for p in output.parent.iterdir()]
    assert leftovers and all(  # hidden temporary names only (the engine's, or a publish's)
        name.startswith(".VIX.parquet.") and ".tmp-" in name for name in leftovers
    )

    recovered = run_ingest(config)
    assert recovered.returncode == 0, recovered.stderr
    assert engine_files(output.parent) == [
        "VIX.parquet",
        "VIX.parquet.source.json",
    ]
    record = read_sidecar(output)
    assert record is not None and record["file"]["sha256"] == sha256_of(output)
    assert record["rows"] == 20_000


def test_disk_full_fails_the_job_and_leaves_nothing_behind(tmp_path, write_config):
    source = tmp_path / "in/VIX_History.csv"
    source.parent.mkdir()
    source.write_bytes(cboe_csv(synthetic_history(days=20_000)))
    result = run_ingest(write_config(CONFIG), file_size_limit=64 * 1024)
    assert result.returncode == 1
    assert "File too large" in result.stderr
    assert list((tmp_path / "data/ingested/vix/local").iterdir()) == []


def test_atomic_path_keeps_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "x.parquet"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer died")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]


def test_tampered_output_is_not_current(tmp_path, write_config, run_cli):
    source = tmp_path / "in/VIX_History.csv"
    source.parent.mkdir()
    source.write_bytes(cboe_csv(synthetic_history(days=50)))
    config = write_config(CONFIG)
    assert run_cli("--config", config).code == 0
    output = tmp_path / "data/ingested/vix/local/VIX.parquet"
    fingerprint = read_sidecar(output)["fingerprint"]  # type: ignore[index]
    assert is_current(output, fingerprint)
    output.write_bytes(output.read_bytes()[:-1] + b"\0")
    assert not is_current(output, fingerprint)
    assert run_cli("--config", config).code == 0
    assert is_current(output, fingerprint)
