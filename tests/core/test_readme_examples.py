"""Every Python example in the README and docs/ runs as written after the demo (`make demo`).
A fragment fenced as ``py`` (not ``python``) names datasets of a user's own config (see
docs/backtest.md) and is not run; the README's runnable examples cover the same calls."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from multigate.exit_codes import ExitCode
from multigate.sample import write_samples

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
BLOCKS = [
    block for page in PAGES for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
]


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as `make demo` leaves the repository: the example config run over the
    generated sample data."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copy(REPO_ROOT / "example.ingest.yaml", folder / "example.ingest.yaml")
    write_samples(folder / "data")
    done = subprocess.run(
        [sys.executable, "-m", "scripts.ingest", "--config", folder / "example.ingest.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == ExitCode.OK, done.stderr
    return folder


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_readme_python_example_runs(demo_folder, number):
    done = subprocess.run(
        [sys.executable, "-c", BLOCKS[number]],
        cwd=demo_folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"README example {number + 1}:\n{BLOCKS[number]}\n{done.stderr}"
