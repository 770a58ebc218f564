"""Shared fixtures: the real-vendor test data folder, config files, and running the CLI."""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from multigate.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_TESTDATA = REPO_ROOT.parent / "shared" / "testdata"


@pytest.fixture
def testdata() -> Path:
    """``../shared/testdata`` beside the clone (real vendor files); skip when absent."""
    if not SHARED_TESTDATA.is_dir():
        pytest.skip(f"real vendor sample data not found at {SHARED_TESTDATA}")
    return SHARED_TESTDATA


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a config (dedented) as ``tmp_path/ingest.yaml`` and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "ingest.yaml"
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """Run ``python -m scripts.ingest`` in-process; returns exit code, stdout, stderr."""

    def run(*args: str | Path) -> CliRun:
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``folder``: mtime_ns and sha256, to prove a run changed nothing."""
    return {
        str(path.relative_to(folder)): (
            path.stat().st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
