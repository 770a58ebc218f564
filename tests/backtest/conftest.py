from __future__ import annotations

from pathlib import Path

import pytest

from multigate import Catalog
from multigate.exit_codes import ExitCode
from tests.backtest.helpers import CONFIG, minute_times, write_records


@pytest.fixture
def bar_catalog(tmp_path: Path, write_config, run_cli) -> Catalog:
    """Minute bars of two CME symbols over five days with gaps, and trades of one symbol,
    each made with databento_dbn and ingested by a real offline run."""
    (tmp_path / "inputs/bars").mkdir(parents=True)
    (tmp_path / "inputs/trades").mkdir(parents=True)
    bars = {1: minute_times(5, 0.6, seed=1), 2: minute_times(5, 0.3, seed=2)}
    write_records(tmp_path / "inputs/bars/week.ohlcv-1m.dbn.zst", "ohlcv-1m", bars, seed=3)
    seconds = minute_times(1, 0.5, seed=4) + 17_000_000_000  # trades at :17 of each minute
    write_records(tmp_path / "inputs/trades/day.trades.dbn.zst", "trades", {7: seconds}, seed=5)
    result = run_cli("--config", write_config(CONFIG))
    assert result.code == ExitCode.OK, result.err
    return Catalog.open(tmp_path / "data")
