"""Alpaca jobs through the dispatcher: the real alpaca-py client against a local server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from alpaca.data.models import BarSet

from multigate.exit_codes import ExitCode
from tests.conftest import ALPACA_KEY as KEY
from tests.conftest import snapshot
from tests.fakes.alpaca_server import (
    CRYPTO_PATH,
    SIP_MESSAGE,
    STOCK_PATH,
    FakeAlpacaServer,
    make_bars,
)

T0 = datetime(2024, 1, 30, 14, 30, tzinfo=UTC)  # bars run from late January into February

CONFIG = """\
data_dir: data
sources:
  alpaca:
    enabled: true
    mode: {mode}
    base_url: {url}
    http: {{max_attempts: 3, backoff_seconds: 0}}
    requests_per_minute: 0
    jobs:
      - name: bars
        mode: api
        symbols: [AAPL, MSFT]
        timeframe: 1Min
        start: 2024-01-29
        end: {end}
        feed: iex
      - name: local
        mode: offline
        path: data/raw/alpaca/stocks/bars/**/*.json.gz
        timeframe: 1Min
        feed: iex
        adjustment: raw
"""


@pytest.fixture
def server(alpaca_server) -> FakeAlpacaServer:
    """AAPL and MSFT minute bars, 1,000 a page; the keys are in the environment."""
    fake = alpaca_server()
    fake.add_bars("AAPL", make_bars(T0, 4000, base=180.0))
    fake.add_bars("MSFT", make_bars(T0, 3000, base=400.0))
    fake.max_page_size = 1000
    return fake


def config_for(write_config, server, *, mode: str = "api", end: str = "2024-02-01") -> Path:
    return write_config(CONFIG.format(mode=mode, url=server.url, end=end))


def output(tmp_path: Path, job: str, symbol: str) -> Path:
    return (
        tmp_path
        / f"data/ingested/alpaca/{job}/timeframe=1Min/feed=iex/adjustment=raw"
        / f"{symbol}.parquet"
    )


def expected_frame(server: FakeAlpacaServer, symbol: str, start: datetime, end: datetime):
    """alpaca-py's own decoding (BarSet.df) of the bars the server holds in [start, end)."""
    bars = [
        b
        for b in server.data[STOCK_PATH][symbol]
        if start <= datetime.fromisoformat(b["t"].replace("Z", "+00:00")) < end
    ]
    frame = BarSet({symbol: bars}).df.reset_index()
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
    return frame


def test_api_job_downloads_all_pages_and_matches_alpaca_py(tmp_path, write_config, run_cli, server):
    result = run_cli("--config", config_for(write_config, server), "--job", "bars")
    assert result.code == ExitCode.OK, result.err
    start, end = datetime(2024, 1, 29, tzinfo=UTC), datetime(2024, 2, 2, tzinfo=UTC)
    for symbol in ("AAPL", "MSFT"):
        got = pq.read_table(output(tmp_path, "bars", symbol)).to_pandas()
        want = expected_frame(server, symbol, start, end)
        assert len(got) == len(want) > 1000  # more than one page of bars
        pd.testing.assert_frame_equal(got[list(want.columns)], want, check_dtype=False)
    # Alpaca's `end` is inclusive: each chunk's page also carries bars stamped exactly at
    # the chunk's end, which belong to the next chunk. Every other served bar was written.
    written = sum(len(expected_frame(server, s, start, end)) for s in ("AAPL", "MSFT"))
    chunk_ends = {"2024-02-01T00:00:00Z", "2024-02-02T00:00:00Z"}
    at_chunk_ends = sum(
        b["t"] in chunk_ends for s in ("AAPL", "MSFT") for b in server.data[STOCK_PATH][s]
    )
    assert sum(server.bars_served(STOCK_PATH)) == written + at_chunk_ends
    assert len(server.bars_served(STOCK_PATH)) > 2  # it really paginated


def test_rerun_makes_no_request_and_changes_no_file(tmp_path, write_config, run_cli, server):
    config = config_for(write_config, server)
    assert run_cli("--config", config, "--job", "bars").code == ExitCode.OK
    requests, before = len(server.requests), snapshot(tmp_path / "data")
    result = run_cli("--config", config, "--job", "bars")
    assert result.code == ExitCode.OK
    assert len(server.requests) == requests
    assert snapshot(tmp_path / "data") == before
    assert "up to date" in result.out


def test_longer_range_fetches_only_the_new_days(tmp_path, write_config, run_cli, server):
    assert run_cli("--config", config_for(write_config, server)).code == ExitCode.OK
    january = sorted((tmp_path / "data/raw/alpaca").rglob("20240129T000000Z_*.json.gz"))
    stamps = {p: p.stat().st_mtime_ns for p in january}
    first_requests = len(server.requests)
    result = run_cli("--config", config_for(write_config, server, end="2024-02-29"))
    assert result.code == ExitCode.OK, result.err
    new = server.requests[first_requests:]
    assert new and all(r.query["start"].startswith("2024-02-02") for r in new)
    assert {p: p.stat().st_mtime_ns for p in january} == stamps
    # February is finished: its two pieces (Feb 1, Feb 2..29) became one file per symbol
    for symbol in ("AAPL", "MSFT"):
        folder = (
            tmp_path
            / f"data/raw/alpaca/stocks/bars/timeframe=1Min/feed=iex/adjustment=raw/symbol={symbol}"
        )
        names = sorted(p.name for p in folder.glob("*.json.gz"))
        assert names == [
            "20240129T000000Z_20240201T000000Z.json.gz",
            "20240201T000000Z_20240301T000000Z.json.gz",
        ]
    rows = pq.read_metadata(output(tmp_path, "bars", "AAPL")).num_rows
    assert rows == 4000  # every AAPL bar now falls inside the range


def test_offline_job_over_the_raw_files_gives_identical_parquet(
    tmp_path, write_config, run_cli, server
):
    assert run_cli("--config", config_for(write_config, server)).code == ExitCode.OK
    result = run_cli("--config", config_for(write_config, server, mode="offline"))
    assert result.code == ExitCode.OK, result.err
    for symbol in ("AAPL", "MSFT"):
        api = output(tmp_path, "bars", symbol).read_bytes()
        assert api == output(tmp_path, "local", symbol).read_bytes()


def test_refused_key_fails_clearly_without_showing_it(
    tmp_path, write_config, run_cli, server, monkeypatch
):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", "wrong-secret-value")
    result = run_cli("--config", config_for(write_config, server), "--job", "bars")
    assert result.code == ExitCode.JOB_FAILED
    assert "refused" in result.err.lower()
    assert "wrong-secret-value" not in result.err + result.out
    assert not (tmp_path / "data/raw").exists()


def test_missing_keys_say_which_variables(tmp_path, write_config, run_cli, server, monkeypatch):
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    result = run_cli("--config", config_for(write_config, server), "--job", "bars")
    assert result.code == ExitCode.CONFIG_ERROR
    assert "APCA_API_KEY_ID" in result.err and server.requests == []


def test_recent_sip_refusal_suggests_iex(tmp_path, write_config, run_cli, server):
    server.script(403, {"message": SIP_MESSAGE}, path=STOCK_PATH)
    result = run_cli("--config", config_for(write_config, server), "--job", "bars")
    assert result.code == ExitCode.JOB_FAILED
    assert "feed: iex" in result.err


def test_crypto_symbols_are_safe_in_paths(tmp_path, write_config, run_cli, server):
    server.add_bars("BTC/USD", make_bars(T0, 50, base=42000.0), crypto=True)
    config = write_config(f"""\
        data_dir: data
        sources:
          alpaca:
            enabled: true
            mode: api
            base_url: {server.url}
            jobs:
              - name: btc
                mode: api
                asset_class: crypto
                symbols: [BTC/USD]
                timeframe: 1Min
                start: 2024-01-30
                end: 2024-01-30
        """)
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    out = (
        tmp_path / "data/ingested/alpaca/btc/timeframe=1Min/feed=us/adjustment=raw/BTC-USD.parquet"
    )
    table = pq.read_table(out)
    assert table.num_rows == 50 and set(table["symbol"].to_pylist()) == {"BTC/USD"}
    assert server.count(CRYPTO_PATH) == 1
    assert not any("/" in p.name for p in (tmp_path / "data").rglob("*"))


def test_dry_run_lists_chunks_and_sends_nothing(tmp_path, write_config, run_cli, server):
    result = run_cli("--config", config_for(write_config, server), "--dry-run")
    assert result.code == ExitCode.OK
    assert server.requests == []
    assert "2024-01-29 00:00 .. 2024-02-01 00:00" in result.out
    assert not (tmp_path / "data").exists()
