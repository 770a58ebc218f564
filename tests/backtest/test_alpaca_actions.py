"""Alpaca corporate actions (saved bodies of GET /v1/corporate-actions) as a dataset, applied
on read to Alpaca bars: splits by old/new rate, cash dividends by 1 - amount / the last
close before the ex-date (from the raw rows)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from multigate import Catalog
from multigate.backtest import applied_adjustments
from multigate.exit_codes import ExitCode
from tests.catalog.helpers import write_alpaca

CONFIG = """\
data_dir: data
sources:
  alpaca:
    enabled: true
    mode: offline
    jobs:
      - {name: bars, mode: offline, path: inputs/alpaca/*.json.gz, timeframe: 1Min, feed: iex}
      - {name: actions, mode: offline, corporate_actions: inputs/actions/*.json*}
"""
SPLIT = {"id": "a1", "symbol": "MSFT", "new_rate": 2, "old_rate": 1, "ex_date": "2024-01-03",
         "process_date": "2024-01-03", "record_date": "2024-01-02"}  # fmt: skip
DIVIDEND = {"id": "a2", "symbol": "MSFT", "rate": 0.75, "special": False, "foreign": False,
            "ex_date": "2024-01-04", "record_date": "2024-01-05", "payable_date": "2024-02-01",
            "process_date": "2024-01-04"}  # fmt: skip
RENAME = {"id": "a3", "old_symbol": "SPY", "new_symbol": "SPYX", "process_date": "2024-01-03"}


@pytest.fixture
def catalog(tmp_path, write_config, run_cli) -> Catalog:
    write_alpaca(tmp_path)
    folder = tmp_path / "inputs/actions"
    folder.mkdir(parents=True)
    page1 = {"corporate_actions": {"forward_splits": [SPLIT], "cash_dividends": [DIVIDEND]},
             "next_page_token": "x"}  # fmt: skip
    page2 = {"corporate_actions": {"cash_dividends": [DIVIDEND], "name_changes": [RENAME]},
             "next_page_token": None}  # fmt: skip
    (folder / "p1.json").write_text(json.dumps(page1))
    (folder / "p2.json.gz").write_bytes(gzip.compress(json.dumps(page2).encode()))
    result = run_cli("--config", write_config(CONFIG))
    assert result.code == ExitCode.OK, result.err
    return Catalog.open(tmp_path / "data")


def test_alpaca_actions_adjust_alpaca_bars(catalog):
    actions = catalog.read("alpaca/actions")
    assert sorted(actions["id"].to_pylist()) == ["a1", "a2", "a3"]  # the repeated one once
    raw = catalog.read("alpaca/bars", "MSFT").to_pandas()
    got = catalog.read("alpaca/bars", "MSFT", adjust="all", adjustments="alpaca/actions")
    jan3, jan4 = pd.Timestamp("2024-01-03", tz="UTC"), pd.Timestamp("2024-01-04", tz="UTC")
    previous = raw[raw["timestamp"] < jan4]["close"].iloc[-1]
    dividend = 1 - 0.75 / previous
    factor = np.where(raw["timestamp"] < jan3, 0.5 * dividend, 1.0)
    factor = np.where((raw["timestamp"] >= jan3) & (raw["timestamp"] < jan4), dividend, factor)
    for column in ("open", "high", "low", "close", "vwap"):
        np.testing.assert_allclose(got[column].to_numpy(), raw[column] * factor, rtol=1e-9)
    volume = np.where(raw["timestamp"] < jan3, 2.0, 1.0)
    np.testing.assert_allclose(got["volume"].to_numpy(), raw["volume"] * volume, rtol=1e-12)
    applied = {e["event_id"]: e for e in applied_adjustments(got)}
    assert sorted(applied) == ["a1", "a2"]
    assert applied["a2"]["factor"] == pytest.approx(dividend, rel=1e-12)
    splits = catalog.read("alpaca/bars", "MSFT", adjust="splits", adjustments="alpaca/actions")
    np.testing.assert_allclose(
        splits["close"].to_numpy(), raw["close"] * np.where(raw["timestamp"] < jan3, 0.5, 1.0)
    )
