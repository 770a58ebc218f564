"""A reader that stops early (``multigate ls | head -1``): the command stops quietly with
141 (128 + SIGPIPE, what a shell reports for a program its pipe ended), never an error."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.catalog.helpers import CONFIG, write_vix

CLOSED_PIPE_EXIT = 141


def run_into_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``args`` with stdout a pipe whose reader has already gone: its first write fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            args, cwd=cwd, stdout=write_end, stderr=subprocess.PIPE, text=True, check=False
        )
    finally:
        os.close(write_end)


@pytest.fixture
def ingested(tmp_path: Path, write_config: Callable[[str], Path]) -> Path:
    write_vix(tmp_path, days=60)
    config = write_config(CONFIG.split("  alpaca:")[0])
    done = subprocess.run(
        [sys.executable, "-m", "scripts.ingest", "--config", str(config), "-q"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return config


MULTIGATE = ["-c", "from multigate.console import run; run()"]
COMMANDS = {
    "ls": [*MULTIGATE, "ls"],
    "check": [*MULTIGATE, "check"],
    "ingest dry run": [*MULTIGATE, "ingest", "--dry-run"],
    "scripts.ingest dry run": ["-m", "scripts.ingest", "--dry-run"],
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_closed_stdout_stops_quietly(ingested: Path, command: list[str]) -> None:
    repo = Path(__file__).resolve().parents[2]
    done = run_into_closed_pipe([sys.executable, *command, "--config", str(ingested)], repo)
    assert done.returncode == CLOSED_PIPE_EXIT, done.stderr
    assert done.stderr == ""
