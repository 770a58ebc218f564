"""Fixtures: the sample jobs of example.ingest.yaml ingested once per test process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from multigate.cli import main
from multigate.sample import write_samples
from multigate.storage.provenance import read_sidecar
from tests.conftest import engine_outputs

EXAMPLE = Path(__file__).resolve().parents[2] / "example.ingest.yaml"


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding every source's offline sample outputs, made by the real CLI
    once per test process (each xdist worker) and shared by the quality tests: read it,
    never change it (copy it to a test's ``tmp_path`` first)."""
    root = tmp_path_factory.mktemp("samples")
    config = root / "ingest.yaml"
    shutil.copy(EXAMPLE, config)
    write_samples(root / "data")
    assert main(["--config", str(config), "-q"]) == 0
    return root / "data"


def ingested_records(data_dir: Path) -> dict[str, dict]:
    """Every ingested output's sidecar, by the output's path relative to ``data_dir``."""
    out = {}
    for path in sorted(engine_outputs(data_dir / "ingested", recursive=True)):
        record = read_sidecar(path)
        assert record is not None, path
        out[str(path.relative_to(data_dir))] = record
    return out
