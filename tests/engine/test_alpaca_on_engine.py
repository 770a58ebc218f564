"""The engine runs Alpaca conversions (offline jobs, and API jobs after fetching) serially,
in a process pool or on Dask: the same bytes and sidecars every way, nothing written
twice, and every symbol's problem reported while the others are published."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from multigate.exit_codes import ExitCode
from multigate.sample.alpaca import write_alpaca_samples
from multigate.storage.layout import sidecar_path
from tests.conftest import engine_outputs, snapshot
from tests.fakes.alpaca_server import FakeAlpacaServer, make_bars

SERIES = "timeframe=1Min/feed=iex/adjustment=raw"
OFFLINE = """\
data_dir: {data}
sources:
  alpaca:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        path: in/[jp]*/*
        timeframe: 1Min
        feed: iex
        adjustment: raw
      - name: aapl
        mode: offline
        path: in/csv/*.csv
        symbol: AAPL
        timeframe: 1Min
        feed: iex
        adjustment: raw
"""
API = """\
data_dir: {data}
sources:
  alpaca:
    enabled: true
    mode: api
    base_url: {url}
    http: {{max_attempts: 3, backoff_seconds: 0}}
    requests_per_minute: 0
    jobs:
      - name: bars
        mode: api
        symbols: [AAPL, MSFT, SPY, QQQ]
        timeframe: 1Min
        start: 2024-01-29
        end: 2024-02-10
        chunk: week
        feed: iex
"""


@pytest.fixture
def server(alpaca_server) -> FakeAlpacaServer:
    fake = alpaca_server()
    t0 = datetime(2024, 1, 30, 14, 30, tzinfo=UTC)
    for index, symbol in enumerate(["AAPL", "MSFT", "SPY", "QQQ"]):
        fake.add_bars(symbol, make_bars(t0, 3000 + 500 * index, base=100.0 + 50 * index))
    fake.max_page_size = 1000
    return fake


def published(folder: Path) -> dict[str, tuple[bytes, dict[str, object]]]:
    """Every output's bytes, and its sidecar without ``created_at``, by path."""
    found: dict[str, tuple[bytes, dict[str, object]]] = {}
    for path in sorted(engine_outputs(folder, recursive=True)):
        record = json.loads(sidecar_path(path).read_text())
        record.pop("created_at")
        found[str(path.relative_to(folder))] = (path.read_bytes(), record)
    return found


def test_offline_outputs_are_identical_for_one_two_workers_and_dask(
    tmp_path, write_config, run_cli, executor_args
):
    write_alpaca_samples(tmp_path / "in")
    results = {}
    for kind in ("1", "2", "dask"):
        config = write_config(OFFLINE.format(data=f"data-{kind}"))
        run = run_cli("--config", config, *executor_args(kind))
        assert run.code == ExitCode.OK, run.err
        results[kind] = published(tmp_path / f"data-{kind}/ingested/alpaca")
    assert sorted(Path(name).name for name in results["1"]) == [
        "AAPL.parquet",
        "MSFT.parquet",
        "QQQ.parquet",
        "SPY.parquet",
    ]
    assert results["2"] == results["1"]
    assert results["dask"] == results["1"]
    msft = results["1"][f"local/{SERIES}/MSFT.parquet"][1]
    assert [Path(item["name"]).name for item in msft["inputs"]] == ["bars_1Min.json.gz"]
    assert msft["extra"]["converter"] == "alpaca-bars/1"
    assert msft["vendor"] == {
        "vendor": "Alpaca",
        "asset_class": "stocks",
        "timeframe": "1Min",
        "feed": "iex",
        "adjustment": "raw",
    }


def test_api_outputs_are_identical_for_one_two_workers_and_dask_and_match_offline(
    tmp_path, write_config, run_cli, executor_args, server
):
    results = {}
    for kind in ("1", "2", "dask"):
        config = write_config(API.format(data=f"data-{kind}", url=server.url))
        run = run_cli("--config", config, *executor_args(kind))
        assert run.code == ExitCode.OK, run.err
        results[kind] = published(tmp_path / f"data-{kind}/ingested/alpaca/bars/{SERIES}")
    assert len(results["1"]) == 4
    assert results["2"] == results["1"]
    assert results["dask"] == results["1"]
    assert len(results["1"]["AAPL.parquet"][1]["inputs"]) == 2  # one raw file per week
    offline = OFFLINE.split("      - name: aapl")[0].replace(  # over the API job's raw files
        "in/[jp]*/*", "data-1/raw/alpaca/stocks/bars/**/*.json.gz"
    )
    run = run_cli("--config", write_config(offline.format(data="data-1")), "--workers", "2")
    assert run.code == ExitCode.OK, run.err
    local = published(tmp_path / f"data-1/ingested/alpaca/local/{SERIES}")
    assert {name: data for name, (data, _) in local.items()} == {
        name: data for name, (data, _) in results["1"].items()
    }


@pytest.mark.parametrize("kind", ["2", "dask"])
def test_second_run_writes_nothing(tmp_path, write_config, run_cli, executor_args, server, kind):
    write_alpaca_samples(tmp_path / "in")
    args = executor_args(kind)
    for text in (OFFLINE, API):
        config = write_config(text.format(data="data", url=server.url))
        first = run_cli("--config", config, *args)
        assert first.code == ExitCode.OK, first.err
        before = snapshot(tmp_path / "data")
        requests = len(server.requests)
        second = run_cli("--config", config, *args)
        assert second.code == ExitCode.OK, second.err
        assert "up to date" in second.out
        assert snapshot(tmp_path / "data") == before
        assert len(server.requests) == requests


def test_every_failing_symbol_is_named_and_the_others_are_published(
    tmp_path, write_config, run_cli
):
    write_alpaca_samples(tmp_path / "in")
    header = "timestamp,open,high,low,close,volume,symbol\n"
    for symbol in ("MSFT", "QQQ"):  # a second, different bar at a time the samples hold
        (tmp_path / "in/json" / f"{symbol}-fix.csv").write_text(
            header + f"2024-01-02T14:30:00Z,1,2,0.5,1.5,7,{symbol}\n"
        )
    config = write_config(OFFLINE.format(data="data"))
    run = run_cli("--config", config, "--workers", "2")
    assert run.code == ExitCode.JOB_FAILED
    assert "2 problems" in run.err and "MSFT" in run.err and "QQQ" in run.err
    assert "Traceback" not in run.err + run.out
    folder = tmp_path / f"data/ingested/alpaca/local/{SERIES}"
    assert sorted(published(folder)) == ["SPY.parquet"]


def planned(out: str, label: str) -> list[str]:
    """The symbols of the local job's outputs a dry run lists under ``label`` (a path
    longer than the console is folded onto the next line: the lines are joined first)."""
    folder = re.escape(f"/ingested/alpaca/local/{SERIES}/")
    return sorted(re.findall(rf" {label} +\S*?{folder}(\S+?)\.parquet", "".join(out.splitlines())))


def test_offline_dry_run_names_each_output_and_which_are_current(tmp_path, write_config, run_cli):
    write_alpaca_samples(tmp_path / "in")
    config = write_config(OFFLINE.format(data="data"))
    first = run_cli("--config", config, "--dry-run")
    assert first.code == ExitCode.OK, first.err
    assert planned(first.out, "write") == ["MSFT", "QQQ", "SPY"]
    assert not (tmp_path / "data").exists()
    assert run_cli("--config", config).code == ExitCode.OK
    (tmp_path / "in/json/late.csv").write_text(
        "timestamp,open,high,low,close,volume,symbol\n2024-02-01T14:30:00Z,1,2,0.5,1.5,7,SPY\n"
    )
    again = run_cli("--config", config, "--dry-run")
    assert again.code == ExitCode.OK, again.err
    assert planned(again.out, "write") == ["SPY"]
    assert planned(again.out, "current") == ["MSFT", "QQQ"]  # their files did not change


def test_offline_dry_run_refuses_a_file_the_run_would_refuse(tmp_path, write_config, run_cli):
    write_alpaca_samples(tmp_path / "in")
    (tmp_path / "in/json/broken.json").write_text("{not json")
    result = run_cli("--config", write_config(OFFLINE.format(data="data")), "--dry-run")
    assert result.code == ExitCode.JOB_FAILED
    assert "broken.json" in result.err
    assert "Traceback" not in result.err + result.out
