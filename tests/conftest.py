"""Shared fixtures: the real-vendor test data folder, config files, and running the CLI.

Real vendor sample files are used only by the tests of ONE group, marked
``vendor_samples`` (run them alone with ``pytest -m vendor_samples``); every other test
builds its own inputs. The samples live in ``../shared/testdata`` beside the clone, or
where ``MULTIGATE_TESTDATA`` points. When they are missing the group is skipped, except
under CI (``CI=true``), where a missing sample folder fails the group instead.

``make test`` runs the suite in parallel (pytest-xdist: ``-n auto --dist loadfile``, one
test file per worker at a time, so module fixtures are made once). Every test must be safe
beside another worker's: servers listen on port 0 of 127.0.0.1 (never a fixed port), files
go under ``tmp_path``, a bucket is made per test (``aws_env.new_bucket()``), session
fixtures (``dask_scheduler``, ``s3_server``, the quality tests' ``sample_data``) are per
worker and only read or used, never changed, and nothing is written to the repository.
A console line can fold where the worker's longer ``tmp_path`` makes it long: match text,
not line layout. To stop a subprocess at a moment, have it stop itself at an event (an
audit hook, see tests/databento_jobs/test_databento_stop.py) rather than racing it.

What a new test can reuse from here:

- ``write_config(text)``, ``run_cli(*args)``: a config in ``tmp_path``, the CLI in-process.
- ``databento_server(**kwargs)``: a ``FakeDatabentoServer`` for this test, the real
  ``databento.Historical`` client pointed at it (env through ``monkeypatch``).
- ``paid_databento_yaml(gateway, ...)``: the usual paid Databento job (XNAS.ITCH trades,
  AAPL and MSFT, 2024-01-02..04, capped at $10, no prompt) with every part overridable.
- ``alpaca_server(**kwargs)``: a ``FakeAlpacaServer`` for this test, keys in the env.
- ``executor_args(kind)``: the CLI flags for ``"1"``/``"2"`` workers or ``"dask"``
  (the worker process's one LocalCluster, ``dask_scheduler``, started on first use).
- ``closed_port()``: a port on 127.0.0.1 where a connection is refused, held for the
  test (bound, never listening) so no other worker's server can take it meanwhile.
- ``snapshot(folder)``: every file's mtime and sha256, to prove a run changed nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from multigate.cli import main

if TYPE_CHECKING:
    from tests.fakes.alpaca_server import FakeAlpacaServer
    from tests.fakes.databento_server import FakeDatabentoServer

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
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliRun]:
    """Run ``python -m scripts.ingest`` in-process; returns exit code, stdout, stderr. The
    summary is laid out for a 200-column screen (a test of widths sets ``COLUMNS`` itself):
    piped, as under xdist or CI, it would take 80."""
    monkeypatch.setenv("COLUMNS", "200")

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


# One Dask LocalCluster of two worker processes per pytest process (per xdist worker),
# shared by every test that runs on Dask: starting one costs seconds.
@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address of a LocalCluster(n_workers=2, processes=True) on 127.0.0.1, on free
    ports and without a dashboard."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address=None,
            # its HTTP routes on a free port too, not Dask's default 8787
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        ) as cluster,
    ):
        yield cluster.scheduler_address


def engine_outputs(folder: Path, recursive: bool = False) -> list[Path]:
    """The engine's Parquet outputs under ``folder``, sorted (not the content-named links
    their Delta tables keep of each version)."""
    from multigate.storage.delta_tables import is_versioned_name

    found = folder.rglob("*.parquet") if recursive else folder.glob("*.parquet")
    return sorted(
        path for path in found if not is_versioned_name(path.name) and not path.name.startswith(".")
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


@pytest.fixture
def executor_args(request: pytest.FixtureRequest) -> Callable[[str], list[str]]:
    """``executor_args(kind)``: the CLI flags that convert with ``kind`` -- ``"1"`` or
    ``"2"`` (``--workers N``) or ``"dask"`` (``--scheduler`` of ``dask_scheduler``, which is
    started only when a test asks for it)."""

    def flags(kind: str) -> list[str]:
        if kind == "dask":
            scheduler = request.getfixturevalue("dask_scheduler")
            return ["--executor", "dask", "--scheduler", scheduler]
        return ["--workers", kind]

    return flags


@pytest.fixture
def closed_port() -> Iterator[Callable[[], int]]:
    """``closed_port()``: a port on 127.0.0.1 that refuses connections until the test
    ends. Its socket stays bound (not listening): a port merely found free and released
    could be taken by another xdist worker's server before the test connects to it."""
    with ExitStack() as stack:

        def reserve() -> int:
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

        yield reserve


# ----------------------------------------------------------------- fake vendors
DATABENTO_KEY = "db-test-key-0123456789"
ALPACA_KEY, ALPACA_SECRET = "test-key-id", "test-secret-key"


@pytest.fixture
def databento_server(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., FakeDatabentoServer]]:
    """``databento_server(key=DATABENTO_KEY, **kwargs)`` starts a ``FakeDatabentoServer``
    (kwargs: symbols, records_per_day, usd_per_record, ...) for this test and points the
    real client of an in-process run at it (its CA, no proxy, ``DATABENTO_API_KEY``); the
    server stops and the environment is restored after the test."""
    from tests.fakes.databento_server import FakeDatabentoServer, point_client_at

    with ExitStack() as stack:

        def start(key: str = DATABENTO_KEY, **kwargs: Any) -> FakeDatabentoServer:
            fake = stack.enter_context(FakeDatabentoServer(key=key, **kwargs))
            point_client_at(fake, monkeypatch)
            return fake

        yield start


@pytest.fixture
def alpaca_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeAlpacaServer]]:
    """``alpaca_server(**kwargs)`` starts a ``FakeAlpacaServer(ALPACA_KEY, ALPACA_SECRET)``
    for this test with ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY`` set to its keys; it
    stops after the test. Its URL is ``.url`` (a job's ``base_url``)."""
    from tests.fakes.alpaca_server import FakeAlpacaServer

    with ExitStack() as stack:

        def start(**kwargs: Any) -> FakeAlpacaServer:
            monkeypatch.setenv("APCA_API_KEY_ID", ALPACA_KEY)
            monkeypatch.setenv("APCA_API_SECRET_KEY", ALPACA_SECRET)
            return stack.enter_context(FakeAlpacaServer(ALPACA_KEY, ALPACA_SECRET, **kwargs))

        yield start


def paid_databento_yaml(
    gateway: str,
    *,
    data_dir: str = "data",
    symbols: Sequence[str] = ("AAPL", "MSFT"),
    start: str = "2024-01-02",
    end: str = "2024-01-04",
    http: Mapping[str, object] | None = None,
    rails: Mapping[str, object] | None = None,
    source_mode: str = "api",
    more_jobs: str = "",
    more_sources: str = "",
) -> str:
    """A config with one paid Databento job, ``trades`` (XNAS.ITCH trades of ``symbols``
    from ``start`` to ``end``, both inclusive) against the fake at ``gateway``.

    ``http`` defaults to 3 attempts without backoff; ``rails`` (the job's guardrail keys,
    values written as JSON, which is YAML's flow style) to ``require_confirm: false,
    max_cost_usd: 10.0`` -- pass ``rails={}`` for none.
    ``more_jobs`` (YAML list items) and ``more_sources`` (YAML mapping entries), written
    unindented, are added under ``databento.jobs`` and ``sources``.
    """
    http = {"max_attempts": 3, "backoff_seconds": 0} if http is None else http
    rails = {"require_confirm": False, "max_cost_usd": 10.0} if rails is None else rails
    lines = [
        f"data_dir: {data_dir}",
        "sources:",
        "  databento:",
        "    enabled: true",
        f"    mode: {source_mode}",
        f"    base_url: {gateway}",
        f"    http: {json.dumps(dict(http))}",
        "    jobs:",
        "      - name: trades",
        "        mode: api",
        "        dataset: XNAS.ITCH",
        "        schema: trades",
        f"        symbols: [{', '.join(symbols)}]",
        f"        start: {start}",
        f"        end: {end}",
        *(f"        {key}: {json.dumps(value)}" for key, value in rails.items()),
    ]
    text = "\n".join(lines) + "\n"
    if more_jobs:
        text += textwrap.indent(textwrap.dedent(more_jobs), " " * 6)
    if more_sources:
        text += textwrap.indent(textwrap.dedent(more_sources), " " * 2)
    return text
