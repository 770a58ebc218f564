"""Shared fixtures: the real-vendor test data folder, config files, and running the CLI.

Real vendor sample files are used only by the tests of ONE group, marked
``vendor_samples`` (run them alone with ``pytest -m vendor_samples``); every other test
builds its own inputs. The samples live in ``../shared/testdata`` beside the clone, or
where ``MULTIGATE_TESTDATA`` points. When they are missing the group is skipped, except
under CI (``CI=true``), where a missing sample folder fails the group instead.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from multigate.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTDATA_ENV = "MULTIGATE_TESTDATA"
VENDOR_MARK = "vendor_samples"


def vendor_testdata_root() -> Path:
    """Where the real vendor sample files are: ``$MULTIGATE_TESTDATA`` or ../shared/testdata."""
    configured = os.environ.get(TESTDATA_ENV)
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "testdata"


def require_vendor_testdata() -> Path:
    """The sample folder; skip when it is missing, but fail under CI (``CI=true``)."""
    root = vendor_testdata_root()
    if root.is_dir():
        return root
    reason = (
        f"real vendor sample data not found at {root} "
        f"(set {TESTDATA_ENV} or put shared/testdata beside the clone)"
    )
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason)


def vendor_params(paths: list[Path], ids: Callable[[Path], str]) -> list[Any]:
    """Parameters for a test over sample files: one per file, or, when the sample folder
    is missing, a single placeholder so the test runs and skips (or fails under CI)."""
    if paths:
        return [pytest.param(p, id=ids(p)) for p in paths]
    return [pytest.param(None, id="vendor-samples-missing")]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{VENDOR_MARK}: reads the real vendor sample files (../shared/testdata or "
        f"${TESTDATA_ENV}); skipped when they are missing, failed when missing under CI",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the samples belongs to the group, and the group's tests all
    check for the samples first (so none can skip or fail any other way)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        marked = item.get_closest_marker(VENDOR_MARK) is not None
        if "testdata" in fixtures and not marked:
            item.add_marker(VENDOR_MARK)
        elif marked and "testdata" not in fixtures:
            raise pytest.UsageError(f"{item.nodeid}: a {VENDOR_MARK} test must use `testdata`")


@pytest.fixture
def testdata() -> Path:
    """The real vendor sample folder (see the module docstring)."""
    return require_vendor_testdata()


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


# A Dask LocalCluster of two worker processes, shared by the tests (of a module) that use it.
@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """The address of a LocalCluster(n_workers=2, processes=True) on 127.0.0.1."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
    ):
        yield cluster.scheduler_address


def engine_outputs(folder: Path, recursive: bool = False) -> list[Path]:
    """The engine's Parquet outputs under ``folder``, sorted (not the content-named links
    their Delta tables keep of each version)."""
    from multigate.storage.delta_tables import is_versioned_name

    found = folder.rglob("*.parquet") if recursive else folder.glob("*.parquet")
    return sorted(
        path
        for path in found
        if not is_versioned_name(path.name) and not path.name.startswith(".")
    )


def engine_files(folder: Path) -> list[str]:
    """Names in ``folder`` but for its Delta table's own (the log, the table's record and
    the content-named links): what the engine itself put there, sorted."""
    from multigate.storage.delta_tables import is_versioned_name
    from multigate.storage.table_record import ENTRIES_NAME, LOG_DIR, TABLE_SIDECAR

    table = {LOG_DIR, TABLE_SIDECAR, ENTRIES_NAME}
    return sorted(
        p.name for p in folder.iterdir() if p.name not in table and not is_versioned_name(p.name)
    )
