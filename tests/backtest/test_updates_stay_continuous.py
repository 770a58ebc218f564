"""The "adjusted history frozen when first written" trap: a vendor-adjusted Alpaca job that
would be updated is refused, and raw bars adjusted on read stay continuous across a split
that arrives with a later update."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from multigate import Catalog
from multigate.exit_codes import ExitCode
from tests.backtest.helpers import NS_PER_MIN, START, write_records
from tests.conftest import engine_outputs

ALPACA = """\
data_dir: data
sources:
  alpaca:
    enabled: true
    mode: api
    jobs:
      - name: bars
        mode: api
        symbols: [AAPL]
        timeframe: 1Day
        start: 2024-01-02
        {end}
        adjustment: {adjustment}
"""


@pytest.mark.parametrize("adjustment", ["split", "dividend", "all"])
def test_an_updating_vendor_adjusted_job_is_refused_at_config_time(
    write_config, run_cli, adjustment
):
    config = write_config(ALPACA.format(end="", adjustment=adjustment))
    result = run_cli("--config", config, "--dry-run")
    assert result.code == ExitCode.CONFIG_ERROR
    assert "adjust='splits' or 'all'" in result.err
    assert "Traceback" not in result.err


def test_a_vendor_adjusted_job_whose_end_is_still_to_come_is_refused(write_config, run_cli):
    config = write_config(ALPACA.format(end="end: 2200-01-01", adjustment="split"))
    result = run_cli("--config", config, "--dry-run")
    assert result.code == ExitCode.CONFIG_ERROR
    assert "discontinuous" in result.err


def test_raw_or_a_past_end_is_accepted(write_config, run_cli):
    for end, adjustment in (("", "raw"), ("end: 2024-01-31", "split")):
        config = write_config(ALPACA.format(end=end, adjustment=adjustment))
        result = run_cli("--config", config, "--dry-run")
        assert "discontinuous" not in result.err, (end, adjustment)


DATABENTO = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - {name: bars, mode: offline, path: inputs/bars/*.dbn.zst}
      - {name: factors, mode: offline, path: inputs/factors/*.jsonl, schema: adjustment-factors}
"""


def largest_jump(closes: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(np.log(closes)))))


def test_a_split_in_a_later_update_leaves_no_discontinuity(tmp_path, write_config, run_cli):
    bars, factors = tmp_path / "inputs/bars", tmp_path / "inputs/factors"
    bars.mkdir(parents=True)
    factors.mkdir(parents=True)
    first = START.value + np.arange(0, 3 * 1440, 7, dtype=np.int64) * NS_PER_MIN
    write_records(bars / "a.ohlcv-1m.dbn.zst", "ohlcv-1m", {1: first}, 1, "XNAS.ITCH")
    (factors / "a.jsonl").write_text("")  # no corporate action known yet
    config = write_config(DATABENTO)
    assert run_cli("--config", config).code == ExitCode.OK
    catalog = Catalog.open(tmp_path / "data")
    options = {"adjust": "splits", "adjustments": "databento/factors"}
    before = catalog.read("databento/bars", **options)
    stored = {
        path: hashlib.sha256(path.read_bytes()).digest()
        for path in engine_outputs(tmp_path / "data/ingested", recursive=True)
    }
    assert len(stored) == 2  # the bars and the factors

    # the update: two more days, after a 2-for-1 split on 2023-11-16 (prices halve)
    later = START.value + np.arange(3 * 1440, 5 * 1440, 7, dtype=np.int64) * NS_PER_MIN
    write_records(bars / "b.ohlcv-1m.dbn.zst", "ohlcv-1m", {1: later}, 2, "XNAS.ITCH", scale=0.5)
    split = {"event_id": "E-9", "event": "FSPLT", "status": "A", "symbol": "SYM1",
             "ex_date": "2023-11-16", "factor": 0.5}  # fmt: skip
    (factors / "b.jsonl").write_text(json.dumps(split) + "\n" + json.dumps(split) + "\n")
    assert run_cli("--config", config).code == ExitCode.OK
    catalog = Catalog.open(tmp_path / "data")

    raw = catalog.read("databento/bars")["close"].to_numpy()
    after = catalog.read("databento/bars", **options)
    assert largest_jump(raw) > 0.6  # the raw history jumps at the split ...
    assert largest_jump(after["close"].to_numpy()) < 0.02  # ... the adjusted one does not
    # the first run's rows are adjusted again on read; their stored files are unchanged
    old = after.slice(0, before.num_rows)
    np.testing.assert_allclose(old["close"], before["close"].to_numpy() * 0.5, rtol=1e-12)
    np.testing.assert_allclose(old["volume"], before["volume"].to_numpy() * 2, rtol=1e-12)
    assert all(hashlib.sha256(p.read_bytes()).digest() == d for p, d in stored.items())
    assert pd.Timestamp(after["ts_event"][before.num_rows].as_py()) == pd.Timestamp(
        int(later[0]), tz="UTC"
    )
