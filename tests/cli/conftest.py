"""The data folder `make demo` leaves (the example config run over the generated samples),
built once per module in a temp folder, and ``multigate`` run in-process."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from multigate.cli import main as ingest_main
from multigate.console import main as console_main
from multigate.exit_codes import ExitCode
from multigate.sample import write_samples
from tests.conftest import CliRun

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as `make demo` leaves a fresh clone: example.ingest.yaml (no ingest.yaml)
    and data/ with every offline sample job ingested."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copy(REPO_ROOT / "example.ingest.yaml", folder / "example.ingest.yaml")
    write_samples(folder / "data")
    assert ingest_main(["--config", str(folder / "example.ingest.yaml"), "-q"]) == ExitCode.OK
    return folder


@pytest.fixture
def data(demo_folder: Path, tmp_path: Path) -> Path:
    """A copy of the demo's data folder this test may change."""
    copy = tmp_path / "data"
    shutil.copytree(demo_folder / "data", copy, symlinks=True)
    return copy


@pytest.fixture
def multigate(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """Run ``multigate ARGS`` in-process; returns exit code, stdout, stderr."""

    def run(*args: str | Path) -> CliRun:
        code = console_main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run
