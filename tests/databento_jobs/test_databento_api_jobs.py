"""Databento API jobs end to end: the real databento.Historical client against a local
HTTPS server that speaks the vendor's protocol and counts every request."""

from __future__ import annotations

from pathlib import Path

import databento as db
import pandas as pd
import pyarrow.parquet as pq
import pytest

from multigate.exit_codes import ExitCode
from multigate.storage.ledger import read_ledger
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import DATABENTO_KEY as KEY
from tests.conftest import engine_outputs, paid_databento_yaml, snapshot
from tests.databento.dbn_helpers import by_symbol
from tests.fakes.databento_server import FakeDatabentoServer

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")

LOCAL_JOB = """\
- name: local
  mode: offline
  raw_dir: data/raw/databento
"""


@pytest.fixture
def server(databento_server) -> FakeDatabentoServer:
    return databento_server(symbols=("AAPL", "MSFT"), records_per_day=50, usd_per_record=0.001)


def config(write_config, server, *, mode="api", end="2024-01-04", confirm=False, cap=10.0) -> Path:
    """The paid job (with ``print_cost``) and an offline job over what it downloads."""
    rails = {"print_cost": True, "require_confirm": confirm, "max_cost_usd": cap}
    text = paid_databento_yaml(
        server.gateway, source_mode=mode, end=end, rails=rails, more_jobs=LOCAL_JOB
    )
    return write_config(text)


def raw_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data/raw/databento").rglob("*.dbn.zst"))


def test_downloads_each_day_and_symbol_once_and_matches_vendor_decoding(
    tmp_path, write_config, run_cli, server
):
    result = run_cli("--config", config(write_config, server))
    assert result.code == ExitCode.OK, result.err
    assert server.calls["get_range"] == 6  # 2 symbols x 3 days (end date is inclusive)
    assert server.calls["get_cost"] == 6
    raws = raw_files(tmp_path)
    assert len(raws) == 6
    for raw in raws:
        sidecar = read_sidecar(raw)
        assert sidecar is not None and sidecar["file"]["sha256"] == sha256_of(raw)
        assert sidecar["query"]["dataset"] == "XNAS.ITCH"
        stem = f"{raw.parent.name.removeprefix('symbol=')}_{raw.name.removesuffix('.dbn.zst')}"
        out = tmp_path / f"data/ingested/databento/trades/schema=trades/{stem}.parquet"
        want = by_symbol(db.DBNStore.from_file(raw).to_df().reset_index())
        got = pq.read_table(out).to_pandas()
        assert len(got) == 50
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert f"estimated cost ${0.001 * 300:,.4f}" in result.err
    assert KEY not in result.err + result.out


def test_over_the_cap_downloads_nothing_and_exits_refused(tmp_path, write_config, run_cli, server):
    result = run_cli("--config", config(write_config, server, cap=0.05), "--yes")
    assert result.code == ExitCode.GUARDRAIL_REFUSED
    assert "over max_cost_usd" in result.out + result.err
    assert server.calls["get_range"] == 0
    assert raw_files(tmp_path) == []


def test_require_confirm_without_terminal_refuses_unless_yes(
    tmp_path, write_config, run_cli, server
):
    path = config(write_config, server, confirm=True)
    refused = run_cli("--config", path)
    assert refused.code == ExitCode.GUARDRAIL_REFUSED
    assert "--yes" in refused.out + refused.err
    assert server.calls["get_range"] == 0 and raw_files(tmp_path) == []
    accepted = run_cli("--config", path, "--yes")
    assert accepted.code == ExitCode.OK, accepted.err
    assert server.calls["get_range"] == 6


def test_rerun_makes_no_billable_call_and_changes_nothing(tmp_path, write_config, run_cli, server):
    path = config(write_config, server)
    assert run_cli("--config", path).code == ExitCode.OK
    calls, before = dict(server.calls), snapshot(tmp_path / "data")
    result = run_cli("--config", path)
    assert result.code == ExitCode.OK
    assert dict(server.calls) == calls  # not even a quote
    assert snapshot(tmp_path / "data") == before


def test_longer_range_fetches_only_the_new_days(tmp_path, write_config, run_cli, server):
    assert run_cli("--config", config(write_config, server)).code == ExitCode.OK
    first = len(server.requests)
    result = run_cli("--config", config(write_config, server, end="2024-01-06"))
    assert result.code == ExitCode.OK, result.err
    new = [form for endpoint, form in server.requests[first:] if endpoint == "get_range"]
    assert sorted((f["symbols"], f["start"][:10]) for f in new) == [
        (s, d) for s in ("AAPL", "MSFT") for d in ("2024-01-05", "2024-01-06")
    ]


def test_cut_transfer_leaves_no_partial_chunk_and_rerun_resumes(
    tmp_path, write_config, run_cli, server
):
    server.script("get_range", status=200)  # first chunk fine
    server.script("get_range", cut_after_bytes=200, times=3)  # second chunk breaks 3 times
    path = config(write_config, server)
    failed = run_cli("--config", path)
    assert failed.code == ExitCode.JOB_FAILED
    assert "failed after 3 attempts" in failed.err
    assert len(raw_files(tmp_path)) == 1  # the finished chunk is kept, nothing partial
    assert not [p for p in (tmp_path / "data").rglob("*") if ".tmp-" in p.name]
    before = server.calls["get_range"]
    resumed = run_cli("--config", path)
    assert resumed.code == ExitCode.OK, resumed.err
    assert server.calls["get_range"] - before == 5  # only the missing chunks
    assert len(raw_files(tmp_path)) == 6


def test_rate_limit_and_server_errors_are_retried(tmp_path, write_config, run_cli, server):
    server.script("get_range", status=429, headers={"Retry-After": "0"})
    server.script("get_range", status=503)
    result = run_cli("--config", config(write_config, server))
    assert result.code == ExitCode.OK, result.err
    assert server.calls["get_range"] == 8
    assert "HTTP 429" in result.err


def test_refused_key_is_clear_and_never_shown(tmp_path, write_config, run_cli, server, monkeypatch):
    monkeypatch.setenv("DATABENTO_API_KEY", "db-wrong-key-9876543210")
    result = run_cli("--config", config(write_config, server))
    assert result.code == ExitCode.JOB_FAILED
    assert "refused the API key" in result.err
    assert "db-wrong-key-9876543210" not in result.err + result.out


def test_vendor_rejection_shows_its_message(tmp_path, write_config, run_cli, server):
    server.script(
        "get_cost",
        status=422,
        case="symbology_invalid_request",
        message="Invalid symbol 'AAPL' for dataset",
    )
    result = run_cli("--config", config(write_config, server))
    assert result.code == ExitCode.JOB_FAILED
    assert "Invalid symbol 'AAPL' for dataset" in result.err
    assert server.calls["get_range"] == 0


def test_dry_run_quotes_but_downloads_and_writes_nothing(tmp_path, write_config, run_cli, server):
    result = run_cli("--config", config(write_config, server), "--dry-run")
    assert result.code == ExitCode.OK
    assert server.calls["get_range"] == 0 and server.calls["get_cost"] == 6
    assert "estimated cost $0.3000" in result.out
    assert "Total estimated cost: $0.3000" in result.out
    assert not (tmp_path / "data").exists()


def test_ledger_records_every_estimate_and_download(tmp_path, write_config, run_cli, server):
    assert run_cli("--config", config(write_config, server)).code == ExitCode.OK
    ledger = read_ledger(tmp_path / "data/raw/databento/ledger.jsonl")
    assert [e["event"] for e in ledger].count("estimate") == 6
    downloads = [e for e in ledger if e["event"] == "download"]
    assert len(downloads) == 6
    assert {d["sha256"] for d in downloads} == {sha256_of(p) for p in raw_files(tmp_path)}
    assert KEY not in (tmp_path / "data/raw/databento/ledger.jsonl").read_text()


def test_offline_job_over_downloaded_files_gives_identical_parquet(
    tmp_path, write_config, run_cli, server
):
    assert run_cli("--config", config(write_config, server)).code == ExitCode.OK
    result = run_cli("--config", config(write_config, server, mode="offline"))
    assert result.code == ExitCode.OK, result.err
    api_files = sorted(engine_outputs(tmp_path / "data/ingested/databento/trades", recursive=True))
    offline_files = sorted(
        engine_outputs(tmp_path / "data/ingested/databento/local", recursive=True)
    )
    assert len(api_files) == len(offline_files) == 6
    # AAPL_<start>_<end> vs dataset=XNAS.ITCH~schema=trades~...~symbol=AAPL~<start>_<end>
    for api_file in api_files:
        twin = [p for p in offline_files if p.name.endswith(api_file.name.replace("_", "~", 1))]
        assert len(twin) == 1
        assert twin[0].read_bytes() == api_file.read_bytes()


def test_an_end_in_the_future_is_refused_before_any_call(tmp_path, write_config, run_cli, server):
    result = run_cli("--config", config(write_config, server, end="2200-01-01"))
    assert result.code == ExitCode.CONFIG_ERROR
    assert "not in the past" in result.err
    assert sum(server.calls.values()) == 0


def _run_on_a_terminal(config_path: Path, answer: bytes, env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with its stdin on a pseudo-terminal, answer the prompt, return (code, err)."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.ingest", "--config", str(config_path)],
        cwd=repo,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    os.write(master, answer)
    _, err = process.communicate(timeout=120)
    os.close(master)
    return process.returncode, err.decode()


@pytest.mark.parametrize(("answer", "code", "downloads"), [(b"y\n", 0, 6), (b"n\n", 3, 0)])
def test_require_confirm_asks_on_a_terminal(
    tmp_path, write_config, server, answer, code, downloads
):
    import os

    path = config(write_config, server, confirm=True)
    returncode, err = _run_on_a_terminal(path, answer, dict(os.environ))
    assert returncode == code, err
    assert "download 6 chunk(s) of XNAS.ITCH trades for $0.3000? [y/N]" in err
    assert server.calls["get_range"] == downloads


def test_duplicate_symbols_are_a_config_error(tmp_path, write_config, run_cli, server):
    text = config(write_config, server).read_text().replace("[AAPL, MSFT]", "[AAPL, AAPL]")
    result = run_cli("--config", write_config(text))
    assert result.code == ExitCode.CONFIG_ERROR
    assert "'AAPL' is listed twice" in result.err and "ingest.yaml:13" in result.err
    assert sum(server.calls.values()) == 0


def test_missing_key_is_a_config_error_before_anything_runs(
    tmp_path, write_config, run_cli, server, monkeypatch
):
    monkeypatch.delenv("DATABENTO_API_KEY")
    result = run_cli("--config", config(write_config, server))
    assert result.code == ExitCode.CONFIG_ERROR
    assert "DATABENTO_API_KEY" in result.err
    assert sum(server.calls.values()) == 0


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("        chunk: month\n", "start 2024-01-02 does not begin a 'month' chunk"),
        ("        chunk: week\n", "start 2024-01-02 does not begin a 'week' chunk"),
    ],
)
def test_ranges_that_would_cut_a_chunk_short_are_config_errors(
    tmp_path, write_config, run_cli, server, extra, words
):
    text = (
        config(write_config, server)
        .read_text()
        .replace("        print_cost: true\n", extra + "        print_cost: true\n")
    )
    result = run_cli("--config", write_config(text))
    assert result.code == ExitCode.CONFIG_ERROR
    assert words in result.err
    assert sum(server.calls.values()) == 0


def test_month_chunks_extend_without_paying_again(tmp_path, write_config, run_cli, server):
    text = (
        config(write_config, server)
        .read_text()
        .replace("        print_cost: true\n", "        chunk: month\n        print_cost: true\n")
        .replace("start: 2024-01-02", "start: 2024-01-01")
    )
    january = write_config(text.replace("end: 2024-01-04", "end: 2024-01-31"))
    assert run_cli("--config", january).code == ExitCode.OK
    assert server.calls["get_range"] == 2
    february = write_config(text.replace("end: 2024-01-04", "end: 2024-02-29"))
    assert run_cli("--config", february).code == ExitCode.OK
    assert server.calls["get_range"] == 4  # only February was fetched
    outputs = sorted(engine_outputs(tmp_path / "data/ingested/databento/trades", recursive=True))
    rows = sum(pq.read_metadata(p).num_rows for p in outputs)
    assert rows == 2 * 50 * (31 + 29)  # no duplicated rows


def test_retries_never_take_the_spend_over_the_cap(tmp_path, write_config, run_cli, server):
    server.script("get_range", cut_after_bytes=100)  # a broken stream may be billed
    result = run_cli("--config", config(write_config, server, cap=0.30))
    assert result.code == ExitCode.GUARDRAIL_REFUSED, result.err
    assert "over max_cost_usd $0.3000" in result.out + result.err
    assert "Spent so far: $0.3000 on 5 chunk(s)" in result.out + result.err
    ledger = read_ledger(tmp_path / "data/raw/databento/ledger.jsonl")
    attempts = [e for e in ledger if e["event"] == "attempt"]
    assert sum(e["usd"] for e in attempts) <= 0.30 + 1e-9
    assert server.calls["get_range"] == len(attempts) == 6  # 1 cut + 5 downloaded
    assert len(raw_files(tmp_path)) == 5


def test_without_a_cap_retries_stop_at_the_approved_total(tmp_path, write_config, run_cli, server):
    text = config(write_config, server).read_text().replace("        max_cost_usd: 10.0\n", "")
    server.script("get_range", cut_after_bytes=100)
    result = run_cli("--config", write_config(text), "--yes")
    assert result.code == ExitCode.GUARDRAIL_REFUSED, result.err
    assert "over the approved total $0.3000" in result.out + result.err
    assert server.calls["get_range"] == 6


def test_error_answers_cost_nothing_and_do_not_eat_the_budget(
    tmp_path, write_config, run_cli, server
):
    server.script("get_range", status=503, times=2)
    result = run_cli("--config", config(write_config, server, cap=0.30))
    assert result.code == ExitCode.OK, result.err
    ledger = read_ledger(tmp_path / "data/raw/databento/ledger.jsonl")
    failed = [e for e in ledger if e["event"] == "attempt_failed"]
    assert len(failed) == 2 and not any(e["billable"] for e in failed)


def test_chunk_left_without_its_sidecar_is_recorded_not_bought_again(
    tmp_path, write_config, run_cli, server
):
    path = config(write_config, server)
    assert run_cli("--config", path).code == ExitCode.OK
    victim = raw_files(tmp_path)[0]
    victim.with_name(victim.name + ".source.json").unlink()
    calls = dict(server.calls)
    result = run_cli("--config", path)
    assert result.code == ExitCode.OK, result.err
    assert dict(server.calls) == calls
    sidecar = read_sidecar(victim)
    assert sidecar is not None and sidecar["file"]["sha256"] == sha256_of(victim)


def test_symbols_the_vendor_does_not_know_are_reported(tmp_path, write_config, run_cli, server):
    text = config(write_config, server).read_text().replace("[AAPL, MSFT]", "[AAPL, ZZZZ]")
    result = run_cli("--config", write_config(text))
    assert result.code == ExitCode.OK, result.err
    assert "did not find ZZZZ" in result.out


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("max_cost_usd: 10.0", "max_cost_usb: 10.0", "did you mean 'max_cost_usd'?"),
        ("max_cost_usd: 10.0", 'max_cost_usd: "10"', "valid number"),
        ("require_confirm: false", "require_confirm: nope", "valid boolean"),
        ("print_cost: true", "print_costs: true", "did you mean 'print_cost'?"),
    ],
)
def test_guardrail_typos_stop_everything(tmp_path, write_config, run_cli, server, old, new, words):
    text = config(write_config, server).read_text()
    assert old in text
    result = run_cli("--config", write_config(text.replace(old, new)))
    assert result.code == ExitCode.CONFIG_ERROR
    assert "ingest.yaml:" in result.err and words in result.err
    assert sum(server.calls.values()) == 0


def test_force_reconverts_but_never_buys_again(tmp_path, write_config, run_cli, server):
    path = config(write_config, server)
    assert run_cli("--config", path).code == ExitCode.OK
    calls = dict(server.calls)
    out = engine_outputs(tmp_path / "data/ingested/databento/trades", recursive=True)[0]
    before = out.stat().st_mtime_ns
    result = run_cli("--config", path, "--force")
    assert result.code == ExitCode.OK, result.err
    assert dict(server.calls) == calls
    assert out.stat().st_mtime_ns != before


def test_instrument_id_requests_convert_with_the_ids_as_symbols(
    tmp_path, write_config, run_cli, server
):
    text = (
        config(write_config, server)
        .read_text()
        .replace("symbols: [AAPL, MSFT]", "symbols: [1001]\n        stype_in: instrument_id")
    )
    result = run_cli("--config", write_config(text))
    assert result.code == ExitCode.OK, result.err
    raws = raw_files(tmp_path)
    assert len(raws) == 3 and all("symbol=1001" in str(p) for p in raws)
    for raw in raws:
        stem = f"1001_{raw.name.removesuffix('.dbn.zst')}"
        out = tmp_path / f"data/ingested/databento/trades/schema=trades/{stem}.parquet"
        want = by_symbol(db.DBNStore.from_file(raw).to_df().reset_index())
        pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), want, check_dtype=False)


def instrument_id_config(write_config, server, symbols: str) -> Path:
    text = (
        config(write_config, server, end="2024-01-03")
        .read_text()
        .replace("symbols: [AAPL, MSFT]", f"symbols: {symbols}\n        stype_in: instrument_id")
    )
    return write_config(text)


def test_instrument_ids_are_read_as_the_vendor_reads_them_integers(
    tmp_path, write_config, run_cli, server
):
    """ "1001" and "01001" are one instrument to Databento: listing both would buy it
    twice (4 paid calls for 2 chunks), so it is the config error any duplicate is."""
    result = run_cli("--config", instrument_id_config(write_config, server, '[1001, "01001"]'))
    assert server.calls["get_range"] == 0 and server.calls["get_cost"] == 0  # money first
    assert result.code == ExitCode.CONFIG_ERROR, result.err
    assert "ingest.yaml:13:" in result.err and "symbols" in result.err
    assert "'1001' and '01001' both give the symbol '1001'" in result.err

    config = instrument_id_config(write_config, server, '["01001"]')
    result = run_cli("--config", config, "--workers", "1")
    assert result.code == ExitCode.OK, result.err
    assert server.calls["get_range"] == 2  # 2 days, asked as the id the vendor reads
    assert {form["symbols"] for _, form in server.requests} == {"1001"}
    raws = raw_files(tmp_path)
    assert len(raws) == 2 and all("symbol=1001" in str(p) for p in raws)


@pytest.mark.parametrize("bad", ["AAPL", "-5", "12.0", "4294967296"])
def test_an_instrument_id_that_is_not_one_is_a_config_error_at_its_line(
    tmp_path, write_config, run_cli, server, bad
):
    result = run_cli("--config", instrument_id_config(write_config, server, f'["{bad}"]'))
    assert result.code == ExitCode.CONFIG_ERROR, result.err
    assert "ingest.yaml:13:" in result.err and f"'{bad}' is not an instrument id" in result.err
    assert "Traceback" not in result.err
    assert sum(server.calls.values()) == 0
