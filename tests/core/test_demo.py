"""The README's first command: example.ingest.yaml over the generated sample data."""

from __future__ import annotations

import shutil
from pathlib import Path

from multigate.exit_codes import ExitCode
from multigate.sample import write_samples
from tests.conftest import snapshot

EXAMPLE = Path(__file__).resolve().parents[2] / "example.ingest.yaml"


def test_example_config_runs_every_offline_job_on_the_sample_data(tmp_path, run_cli):
    config = tmp_path / "example.ingest.yaml"
    shutil.copy(EXAMPLE, config)
    write_samples(tmp_path / "data")
    first = run_cli("--config", config)
    assert first.code == ExitCode.OK, first.err
    rows = [line for line in first.out.splitlines() if "│ offline │" in line]
    assert rows and all(" ok " in line for line in rows), first.out
    assert " failed " not in first.out

    before = snapshot(tmp_path / "data")
    second = run_cli("--config", config)
    assert second.code == ExitCode.OK
    assert snapshot(tmp_path / "data") == before
    assert all(" up to date " in line for line in second.out.splitlines() if "│ offline │" in line)


def test_sample_data_is_deterministic(tmp_path):
    write_samples(tmp_path / "a")
    write_samples(tmp_path / "b")
    a = {k: v[1] for k, v in snapshot(tmp_path / "a").items()}
    b = {k: v[1] for k, v in snapshot(tmp_path / "b").items()}
    assert a == b and len(a) >= 6
