"""Databento spending under faults: quotes that are not prices, lifetime budgets, a full
disk. The real databento.Historical client against the local fake vendor, which counts
every billable call."""

from __future__ import annotations

import datetime as dt
import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from multigate.exit_codes import ExitCode
from multigate.sources.databento.dbn_synthetic import encode_metadata, synthetic_records
from tests.conftest import paid_databento_yaml
from tests.fakes.databento_server import FakeDatabentoServer

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")

REPO_ROOT = Path(__file__).resolve().parents[2]
LEDGER = "data/raw/databento/ledger.jsonl"


@pytest.fixture
def server(databento_server) -> FakeDatabentoServer:
    """6 chunks (2 symbols x 3 days) quoted at $0.05 each."""
    return databento_server(symbols=("AAPL", "MSFT"), records_per_day=50, usd_per_record=0.001)


def write_job(write_config, server: FakeDatabentoServer, **rails: object) -> Path:
    return write_config(paid_databento_yaml(server.gateway, rails=rails))


def raw_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data/raw/databento").rglob("*.dbn.zst"))


def strict_ledger(tmp_path: Path) -> list[dict]:
    """Every ledger line, parsed as strict JSON (NaN or Infinity tokens are an error)."""

    def no_constants(token: str) -> None:
        raise AssertionError(f"ledger holds the non-JSON token {token}")

    path = tmp_path / LEDGER
    if not path.exists():
        return []
    return [json.loads(line, parse_constant=no_constants) for line in path.read_text().splitlines()]


# Bodies of metadata.get_cost that are not a price: NaN, infinities, negative, null, a
# string, a list, nothing at all, text that is not JSON, and an integer too large for a float.
NOT_A_PRICE = [b"NaN", b"Infinity", b"-Infinity", b"-0.5", b"null", b'"abc"', b"[1]", b"", b"abc"]
NOT_A_PRICE.append(b"1" + b"0" * 400)


@pytest.mark.parametrize("body", NOT_A_PRICE)
@pytest.mark.parametrize(
    "rails",
    [
        {"max_cost_usd": 0.01, "require_confirm": False},
        {"max_cost_usd": 100.0, "require_confirm": False},
        {"require_confirm": True},
    ],
    ids=["tiny-cap", "big-cap", "confirm"],
)
def test_a_quote_that_is_not_a_price_is_refused_where_a_guardrail_applies(
    tmp_path, write_config, run_cli, server, body, rails
):
    server.script("get_cost", body=body, times=6)
    result = run_cli("--config", write_job(write_config, server, **rails), "--yes")
    assert result.code == ExitCode.GUARDRAIL_REFUSED, result.err
    assert "cost unknown" in result.out + result.err
    assert "Traceback" not in result.err
    assert server.calls["get_range"] == 0 and raw_files(tmp_path) == []
    estimates = [e for e in strict_ledger(tmp_path) if e["event"] == "estimate"]
    assert len(estimates) == 6 and all(e["usd"] is None for e in estimates)


def test_one_unknown_quote_makes_the_whole_total_unknown(tmp_path, write_config, run_cli, server):
    server.script("get_cost", status=200)  # the first chunk is priced normally
    server.script("get_cost", body=b"-0.5")  # -0.5 would bring a $0.30 total under the cap
    result = run_cli("--config", write_job(write_config, server, max_cost_usd=0.26), "--yes")
    assert result.code == ExitCode.GUARDRAIL_REFUSED, result.err
    assert "cost unknown" in result.out + result.err
    assert server.calls["get_range"] == 0


@pytest.mark.parametrize("body", [b"NaN", b"null", b"abc"])
def test_without_any_guardrail_an_unknown_cost_is_said_and_the_download_goes_on(
    tmp_path, write_config, run_cli, server, body
):
    server.script("get_cost", body=body, times=6)
    result = run_cli("--config", write_job(write_config, server, require_confirm=False))
    assert result.code == ExitCode.OK, result.err
    assert "estimated cost unknown" in result.err
    assert server.calls["get_range"] == 6 and len(raw_files(tmp_path)) == 6
    attempts = [e for e in strict_ledger(tmp_path) if e["event"] == "attempt"]
    assert len(attempts) == 6 and all(e["usd"] is None for e in attempts)


@pytest.mark.parametrize("body", NOT_A_PRICE)
def test_dry_run_says_the_cost_is_unknown(tmp_path, write_config, run_cli, server, body):
    server.script("get_cost", body=body)
    result = run_cli("--config", write_job(write_config, server, max_cost_usd=1.0), "--dry-run")
    assert result.code == ExitCode.OK, result.err
    assert "estimated cost unknown" in result.out
    assert "was not a price" in result.out
    assert "Traceback" not in result.err
    assert server.calls["get_range"] == 0


def ledger_attempts_usd(tmp_path: Path) -> float:
    return sum(e["usd"] for e in strict_ledger(tmp_path) if e["event"] == "attempt")


def test_budget_counts_what_earlier_runs_were_billed_and_refuses_before_any_download(
    tmp_path, write_config, run_cli, server
):
    rails = {"max_cost_usd": 0.30, "budget_usd": 0.40, "require_confirm": False}
    path = write_job(write_config, server, **rails)
    server.script("get_range", cut_after_bytes=100, times=3)  # 3 broken, billed streams
    first = run_cli("--config", path)
    assert first.code == ExitCode.JOB_FAILED, first.err
    assert server.calls["get_range"] == 3 and raw_files(tmp_path) == []

    plan = run_cli("--config", path, "--dry-run")
    assert plan.code == ExitCode.OK, plan.err
    assert "$0.1500 already billed to this job, $0.2500 left" in plan.out
    assert "a run would be refused" in plan.out

    second = run_cli("--config", path)  # $0.15 billed + $0.30 quoted > $0.40
    assert second.code == ExitCode.GUARDRAIL_REFUSED, second.err
    assert "over budget_usd $0.4000" in second.out + second.err
    assert server.calls["get_range"] == 3  # not one more billable call
    assert ledger_attempts_usd(tmp_path) <= 0.40 + 1e-9


def test_retries_never_take_the_lifetime_spend_over_the_budget(
    tmp_path, write_config, run_cli, server
):
    server.script("get_range", cut_after_bytes=100, times=2)  # chunk 1: cut, cut, then fine
    server.script("get_range", status=200)
    server.script("get_range", cut_after_bytes=100)  # chunk 2: cut, then fine
    rails = {"max_cost_usd": 10.0, "budget_usd": 0.40, "require_confirm": False}
    result = run_cli("--config", write_job(write_config, server, **rails))
    assert result.code == ExitCode.GUARDRAIL_REFUSED, result.err
    assert "budget_usd $0.4000" in result.out + result.err
    assert ledger_attempts_usd(tmp_path) <= 0.40 + 1e-9
    assert server.calls["get_range"] == 8  # 3 + 2 + chunks 3..5; chunk 6 would cross $0.40
    assert len(raw_files(tmp_path)) == 5


def test_a_grown_range_is_refused_when_the_lifetime_budget_is_spent(
    tmp_path, write_config, run_cli, server
):
    rails = {"budget_usd": 0.45, "require_confirm": False}
    path = write_job(write_config, server, **rails)
    assert run_cli("--config", path).code == ExitCode.OK  # $0.30 for 6 chunks
    longer = write_config(path.read_text().replace("end: 2024-01-04", "end: 2024-01-06"))
    result = run_cli("--config", longer)  # 4 new chunks: $0.20 more
    assert result.code == ExitCode.GUARDRAIL_REFUSED, result.err
    assert server.calls["get_range"] == 6


def test_a_torn_last_ledger_line_is_skipped_and_never_glued_to(
    tmp_path, write_config, run_cli, server
):
    rails = {"budget_usd": 1.0, "require_confirm": False}
    ledger = tmp_path / LEDGER
    ledger.parent.mkdir(parents=True)
    ledger.write_text('{"at": "2024-02-01T00:00:00+00:00", "event": "attempt", "job": "tra')
    result = run_cli("--config", write_job(write_config, server, **rails))
    assert result.code == ExitCode.OK, result.err
    records = strict_ledger(tmp_path)  # every line parses: the torn one is gone
    assert [e["event"] for e in records].count("download") == 6


def test_an_unreadable_ledger_line_stops_a_budgeted_job(tmp_path, write_config, run_cli, server):
    ledger = tmp_path / LEDGER
    ledger.parent.mkdir(parents=True)
    ledger.write_text('not json\n{"event": "estimate", "job": "trades", "usd": 0.1}\n')
    rails = {"budget_usd": 1.0, "require_confirm": False}
    result = run_cli("--config", write_job(write_config, server, **rails))
    assert result.code == ExitCode.JOB_FAILED
    assert "ledger.jsonl:1: not a ledger record" in result.out + result.err
    assert server.calls["get_range"] == 0


def test_unpriced_attempts_are_named_and_an_adjustment_line_settles_them(
    tmp_path, write_config, run_cli, server
):
    ledger = tmp_path / LEDGER
    ledger.parent.mkdir(parents=True)
    earlier = '"job": "trades", "symbols": "AAPL", "start": "2023-01-02T00:00:00+00:00"'
    ledger.write_text(
        '{"event": "estimate", "job": "trades", "usd": 0.1}\n'
        f'{{"event": "attempt", "usd": null, {earlier}}}\n'
        f'{{"event": "attempt", "usd": NaN, {earlier}}}\n'  # as versions before 1 wrote it
    )
    config = write_job(write_config, server, budget_usd=1.0, require_confirm=False)
    refused = run_cli("--config", config)
    assert refused.code == ExitCode.GUARDRAIL_REFUSED, refused.err
    assert server.calls["get_range"] == 0
    text = refused.err.replace("\n", " ")
    assert f"{ledger} line(s) 2, 3" in text
    assert '{"event": "adjustment", "job": "JOB", "usd": PRICE, "settles_lines": [2, 3]}' in text
    # the user settles them at the price the vendor billed, as the message says
    with ledger.open("a") as file:
        file.write(
            '{"event": "adjustment", "job": "trades", "usd": 0.1, "settles_lines": [2, 3]}\n'
        )
    plan = run_cli("--config", config, "--dry-run")
    assert "$0.1000 already billed to this job" in plan.out.replace("\n", " ")
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    assert server.calls["get_range"] == 6


def vendor_body(records: int) -> bytes:
    """A complete zstd DBN answer for AAPL on 2024-01-02 with ``records`` trades."""
    start = int(dt.datetime(2024, 1, 2, tzinfo=dt.UTC).timestamp()) * 10**9
    day = dt.date(2024, 1, 2)
    header = encode_metadata(
        "trades",
        start,
        start + 86_400 * 10**9,
        {"AAPL": [(day, day + dt.timedelta(days=1), "1001")]},
        "XNAS.ITCH",
    )
    body = synthetic_records("trades", records, 1, 0, start + 3_600 * 10**9, 7)
    body["instrument_id"] = 1001
    return zstandard.ZstdCompressor(level=1).compress(header + body.tobytes())


def run_with_file_size_limit(config: Path, limit: int) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess whose files may not grow past ``limit`` bytes: a write past
    it fails with EFBIG ("File too large"), as a full disk fails with ENOSPC."""

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "scripts.ingest", "--config", str(config)],
        cwd=REPO_ROOT,
        preexec_fn=small_files,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_local_write_error_fails_at_once_and_costs_one_attempt(tmp_path, write_config, server):
    body = vendor_body(200_000)  # a few MB, over the 1 MB file size limit
    server.script("get_range", body=body, times=6)
    config = write_config(paid_databento_yaml(server.gateway, symbols=["AAPL"], end="2024-01-02"))
    folder = tmp_path / "data/raw/databento/dataset=XNAS.ITCH/schema=trades/stype_in=raw_symbol"
    for run in (1, 2):
        result = run_with_file_size_limit(config, 1 << 20)
        assert result.returncode == ExitCode.JOB_FAILED, result.stderr
        assert server.calls["get_range"] == run  # one billable call per run, never retried
        assert f"cannot store the download in {folder}/symbol=AAPL" in result.stderr
        assert "File too large (EFBIG)" in result.stderr
        assert "bytes received before the write failed" in result.stderr
        assert "Traceback" not in result.stderr
    attempts = [e for e in strict_ledger(tmp_path) if e["event"] == "attempt"]
    failed = [e for e in strict_ledger(tmp_path) if e["event"] == "attempt_failed"]
    assert len(attempts) == len(failed) == 2 and all(e["billable"] for e in failed)
    assert raw_files(tmp_path) == []
    assert not [p for p in (tmp_path / "data").rglob("*") if ".paid-" in p.name]


def ledger_lines(tmp_path: Path) -> list[tuple[str, int]]:
    """(event, length in bytes) of every ledger line."""
    lines = (tmp_path / LEDGER).read_bytes().splitlines(keepends=True)
    return [(json.loads(line)["event"], len(line)) for line in lines]


@pytest.mark.parametrize("torn", ["estimate", "attempt"])
def test_no_paid_call_without_its_whole_attempt_line(tmp_path, write_config, server, torn):
    """A ledger line cut short by a file size limit fails the job before get_range: the
    ledger never misses an attempt that was made."""
    config = write_config(paid_databento_yaml(server.gateway, symbols=["AAPL"], end="2024-01-02"))
    server.script("get_range", 422, message="free: an error status streams nothing")
    first = run_with_file_size_limit(config, 1 << 30)  # measure the lines one run writes
    assert first.returncode == ExitCode.JOB_FAILED and server.calls["get_range"] == 1
    size = (tmp_path / LEDGER).stat().st_size
    lines = ledger_lines(tmp_path)  # estimate line(s), then attempt, attempt_failed
    before = [length for event, length in lines[: [e for e, _ in lines].index("attempt") + 1]]
    # room for every line before the torn one, and half of it
    upto = 0 if torn == "estimate" else len(before) - 1
    room = sum(before[:upto]) + before[upto] // 2
    result = run_with_file_size_limit(config, size + room)
    assert result.returncode == ExitCode.JOB_FAILED, result.stderr
    assert server.calls["get_range"] == 1  # no paid call in the limited run
    assert "File too large" in result.stderr and "Traceback" not in result.stderr
    assert raw_files(tmp_path) == []
    server.script("get_range", 422, message="free")
    again = run_with_file_size_limit(config, 1 << 30)  # the torn line is dropped, not fatal
    assert again.returncode == ExitCode.JOB_FAILED and server.calls["get_range"] == 2
    events = [e["event"] for e in strict_ledger(tmp_path)]
    assert events.count("attempt") == 2


LATER_JOB = """\
- name: later
  mode: api
  dataset: XNAS.ITCH
  schema: trades
  symbols: [AAPL]
  start: 2024-01-03
  end: 2024-01-03
  require_confirm: false
  max_cost_usd: 10.0
"""


def test_after_a_local_write_error_the_runs_later_paid_jobs_do_not_pay(
    tmp_path, write_config, server
):
    server.script("get_range", body=vendor_body(200_000), times=6)  # over the 1 MB limit
    config = write_config(
        paid_databento_yaml(server.gateway, symbols=["AAPL"], end="2024-01-02", more_jobs=LATER_JOB)
    )
    result = run_with_file_size_limit(config, 1 << 20)
    assert result.returncode == ExitCode.JOB_FAILED, result.stderr
    assert server.calls["get_range"] == 1  # the first job's one attempt, nothing for `later`
    assert "not downloading 1 chunk(s): an earlier job of this run" in result.stderr
    assert "job trades: cannot store the download" in result.stderr
    assert "Traceback" not in result.stderr
    attempts = [e for e in strict_ledger(tmp_path) if e["event"] == "attempt"]
    assert [e["job"] for e in attempts] == ["trades"]
