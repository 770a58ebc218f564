"""Cost guardrails when conversions run in a process pool (``--workers 2``) or on Dask: a
refused paid job spends nothing while an offline job beside it still converts, and
several paid jobs in one run each stay within their own ``max_cost_usd``. Real runs of
the CLI; the real databento.Historical client against the local fake vendor, which
counts every billable call (``get_range``)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from multigate.exit_codes import ExitCode
from multigate.guardrails import spend_from_ledger
from multigate.storage.ledger import read_ledger
from tests.conftest import REPO_ROOT, CliRun, engine_outputs, paid_databento_yaml
from tests.engine.helpers import leftovers, published, write_many_symbols
from tests.fakes.databento_server import FakeDatabentoServer

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")

LEDGER = "raw/databento/ledger.jsonl"
VIX_SYMBOLS = 6

WriteConfig = Callable[[str], Path]
RunCli = Callable[..., CliRun]

VIX_JOB = """\
vix:
  enabled: true
  mode: offline
  jobs:
    - name: many
      mode: offline
      path: in/*/*.csv
"""


def paid_and_offline(server: FakeDatabentoServer, **rails: object) -> str:
    """The paid Databento job with ``rails``, and an offline VIX job beside it."""
    return paid_databento_yaml(server.gateway, rails=rails, more_sources=VIX_JOB)


OFFLINE_ONLY = """\
data_dir: {data}
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: many
        mode: offline
        path: in/*/*.csv
"""


@pytest.fixture
def server(databento_server) -> FakeDatabentoServer:
    """2 symbols x 3 days of trades (6 chunks) at $0.05 a chunk."""
    return databento_server(symbols=("AAPL", "MSFT"), records_per_day=50, usd_per_record=0.001)


PARALLEL = pytest.mark.parametrize("kind", ["2", "dask"])


def billable_calls(server: FakeDatabentoServer) -> Counter[tuple[str, str, str]]:
    """get_range requests the fake vendor received, by (schema, symbol, start)."""
    return Counter(
        (form["schema"], form["symbols"], form["start"])
        for endpoint, form in server.requests
        if endpoint == "get_range"
    )


def assert_nothing_spent(data: Path, server: FakeDatabentoServer, job: str = "trades") -> None:
    """No billable call, no raw file (not even a hidden one), no ledger spend, no output."""
    assert server.calls["get_range"] == 0
    raw = data / "raw/databento"
    assert not [path for path in raw.rglob("*") if path.is_file() and path.name != "ledger.jsonl"]
    records = read_ledger(data / LEDGER)
    assert {record["event"] for record in records} <= {"estimate"}
    assert spend_from_ledger(records, job).billed_usd == 0.0
    assert not (data / "ingested/databento").exists()


def assert_offline_job_converted(
    tmp_path: Path, data: Path, write_config: WriteConfig, run_cli: RunCli
) -> None:
    """The VIX job's outputs are all there, the same as a serial run of it alone makes."""
    made = published(data)
    assert len(made) == VIX_SYMBOLS
    assert leftovers(data) == []
    alone = write_config(OFFLINE_ONLY.format(data="serial"))
    assert run_cli("--config", alone, "--workers", "1").code == ExitCode.OK
    assert made == published(tmp_path / "serial")


OVER_A_CAP = {
    "max_cost_usd": "estimated cost $0.3000 is over max_cost_usd $0.1000",
    "budget_usd": "estimated cost $0.3000 plus $0.0000 already billed to this job is over "
    "budget_usd $0.1000",
}


@PARALLEL
@pytest.mark.parametrize("cap", list(OVER_A_CAP))
def test_a_quote_over_a_cap_spends_nothing_and_the_offline_job_converts(
    tmp_path: Path,
    write_config: WriteConfig,
    run_cli: RunCli,
    server: FakeDatabentoServer,
    executor_args: Callable[[str], list[str]],
    kind: str,
    cap: str,
) -> None:
    write_many_symbols(tmp_path / "in", symbols=VIX_SYMBOLS, days=800)
    rails = {cap: 0.10, "require_confirm": False}  # the quote is $0.30
    config = write_config(paid_and_offline(server, **rails))
    result = run_cli("--config", config, "--yes", *executor_args(kind))
    assert result.code == ExitCode.GUARDRAIL_REFUSED, result.err
    assert OVER_A_CAP[cap] in (result.out + result.err).replace("\n", " ")
    assert server.calls["get_cost"] == 6  # quoted (free), never bought
    assert_nothing_spent(tmp_path / "data", server)
    assert_offline_job_converted(tmp_path, tmp_path / "data", write_config, run_cli)


def run_on_a_terminal(config: Path, answer: bytes, args: list[str]) -> tuple[int, str]:
    """The CLI in a subprocess whose stdin is a pseudo-terminal; ``answer`` is typed in."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.ingest", "--config", str(config), *args],
        cwd=REPO_ROOT,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    try:
        os.write(master, answer)
        _, err = process.communicate(timeout=180)
    finally:
        os.close(master)
    return process.returncode, err.decode()


@PARALLEL
@pytest.mark.parametrize("how", ["no-terminal", "answered-n"])
def test_an_unconfirmed_download_spends_nothing_and_the_offline_job_converts(
    tmp_path: Path,
    write_config: WriteConfig,
    run_cli: RunCli,
    server: FakeDatabentoServer,
    executor_args: Callable[[str], list[str]],
    kind: str,
    how: str,
) -> None:
    write_many_symbols(tmp_path / "in", symbols=VIX_SYMBOLS, days=800)
    config = write_config(paid_and_offline(server, require_confirm=True))
    if how == "no-terminal":
        result = run_cli("--config", config, *executor_args(kind))
        code, err = result.code, result.out + result.err
        assert "there is no terminal to ask: re-run with --yes" in err
    else:
        code, err = run_on_a_terminal(config, b"n\n", executor_args(kind))
        assert "download 6 chunk(s) of XNAS.ITCH trades for $0.3000? [y/N]" in err
        assert "not confirmed; nothing was downloaded" in err
    assert code == ExitCode.GUARDRAIL_REFUSED, err
    assert "Traceback" not in err
    assert_nothing_spent(tmp_path / "data", server)
    assert_offline_job_converted(tmp_path, tmp_path / "data", write_config, run_cli)


SEVERAL_PAID_JOBS = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: api
    base_url: {gateway}
    http: {{max_attempts: 5, backoff_seconds: 0}}
    jobs:
      - name: first
        mode: api
        dataset: XNAS.ITCH
        schema: trades
        symbols: [AAPL]
        start: 2024-01-02
        end: 2024-01-04
        require_confirm: false
        max_cost_usd: 0.20
      - name: second
        mode: api
        dataset: XNAS.ITCH
        schema: trades
        symbols: [MSFT]
        start: 2024-01-02
        end: 2024-01-04
        require_confirm: false
        max_cost_usd: 0.20
      - name: third
        mode: api
        dataset: XNAS.ITCH
        schema: mbp-1
        symbols: [AAPL]
        start: 2024-01-02
        end: 2024-01-04
        require_confirm: false
        max_cost_usd: 0.10
"""
DAYS = ("2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00", "2024-01-04T00:00:00+00:00")


def job_spend(data: Path) -> dict[str, float]:
    records = read_ledger(data / LEDGER)
    return {job: spend_from_ledger(records, job).billed_usd for job in ("first", "second", "third")}


@PARALLEL
def test_several_paid_jobs_each_stay_within_their_own_cap(
    tmp_path: Path,
    write_config: WriteConfig,
    run_cli: RunCli,
    server: FakeDatabentoServer,
    executor_args: Callable[[str], list[str]],
    kind: str,
) -> None:
    """``max_cost_usd`` is a job's key and bounds that job's spend in one run (its quote and
    every billable retry). Three jobs quoted $0.15 each, capped at $0.20, $0.20 and $0.10:
    the first buys its 3 chunks; the second's first chunk is cut twice (billed in full), so
    after its second chunk ($0.20) the third would cross its cap and is not bought; the
    third is refused before any download. The run's spend ($0.35) is the sum of the jobs'."""
    server.script("get_range", status=200, times=3)  # first: three good answers
    server.script("get_range", cut_after_bytes=100, times=2)  # second, day 1: cut, cut
    config = write_config(SEVERAL_PAID_JOBS.format(gateway=server.gateway))
    result = run_cli("--config", config, *executor_args(kind))
    assert result.code == ExitCode.GUARDRAIL_REFUSED, result.err
    text = (result.out + result.err).replace("\n", " ")
    assert "over max_cost_usd $0.2000" in text  # second, stopped before its third chunk
    assert "estimated cost $0.1500 is over max_cost_usd $0.1000" in text  # third
    assert "Traceback" not in text

    calls = billable_calls(server)
    first_day, *later = DAYS
    assert calls == Counter(
        {
            **{("trades", "AAPL", day): 1 for day in DAYS},
            ("trades", "MSFT", first_day): 3,  # cut, cut, whole
            ("trades", "MSFT", later[0]): 1,
        }
    )
    spend = job_spend(tmp_path / "data")
    assert spend == pytest.approx({"first": 0.15, "second": 0.20, "third": 0.0})
    assert all(usd <= cap + 1e-9 for usd, cap in zip(spend.values(), (0.2, 0.2, 0.1), strict=True))

    data = tmp_path / "data"
    first = sorted(engine_outputs(data / "ingested/databento/first", recursive=True))
    assert len(first) == 3  # converted on the workers
    assert not (data / "ingested/databento/second").exists()  # stopped before converting
    assert not (data / "ingested/databento/third").exists()
    assert leftovers(data) == []
    assert not [path for path in data.rglob("*") if ".paid-" in path.name]

    # a re-run buys only what is missing: the second job's last chunk, nothing twice
    again = run_cli("--config", config, *executor_args(kind))
    assert again.code == ExitCode.GUARDRAIL_REFUSED, again.err  # the third, again
    calls_after = billable_calls(server)
    assert calls_after - calls == Counter({("trades", "MSFT", later[1]): 1})
    assert len(list(engine_outputs(data / "ingested/databento/second", recursive=True))) == 3
    assert job_spend(data) == pytest.approx({"first": 0.15, "second": 0.25, "third": 0.0})
