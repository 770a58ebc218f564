"""Shared bits of the catalog tests: a data folder made by real offline ingest runs of all
three sources, and an independent reference read (pyarrow on the stored files)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from multigate.sample.alpaca import synthetic_bars
from multigate.sample.vix import cboe_csv, synthetic_history
from multigate.sources.alpaca.raw_store import encode_raw_bars
from multigate.sources.databento.dbn_synthetic import write_synthetic_file
from tests.conftest import engine_outputs

CONFIG = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: vix_daily
        mode: offline
        path: inputs/vix/*_History.csv
  alpaca:
    enabled: true
    mode: offline
    jobs:
      - name: eq_1m
        mode: offline
        path: inputs/alpaca/*.json.gz
        timeframe: 1Min
        feed: iex
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: glbx
        mode: offline
        raw_dir: inputs/dbn
      - name: es_trades
        mode: offline
        raw_dir: inputs/dbn_trades
"""


def write_vix(
    base: Path, seed: int = 1, days: int = 300, symbols: tuple[str, ...] = ("VIX", "VIX3M")
) -> None:
    folder = base / "inputs/vix"
    folder.mkdir(parents=True, exist_ok=True)
    for offset, symbol in enumerate(symbols):
        csv = cboe_csv(synthetic_history(seed=seed + offset, days=days))
        (folder / f"{symbol}_History.csv").write_bytes(csv)


def write_alpaca(base: Path, seed: int = 1) -> None:
    folder = base / "inputs/alpaca"
    folder.mkdir(parents=True, exist_ok=True)
    body = encode_raw_bars(
        {
            "MSFT": synthetic_bars("MSFT", 370.0, seed=seed),
            "SPY": synthetic_bars("SPY", 470.0, seed=seed),
        }
    )
    (folder / "bars.json.gz").write_bytes(body)


def write_databento(base: Path, seed: int = 1) -> None:
    mixed = base / "inputs/dbn"
    mixed.mkdir(parents=True, exist_ok=True)
    write_synthetic_file(mixed / "day.trades.dbn.zst", "trades", 4_000, n_instruments=3, seed=seed)
    write_synthetic_file(mixed / "day.mbp-1.dbn.zst", "mbp-1", 3_000, n_instruments=3, seed=seed)
    single = base / "inputs/dbn_trades"
    single.mkdir(parents=True, exist_ok=True)
    write_synthetic_file(single / "a.trades.dbn.zst", "trades", 2_000, n_instruments=2, seed=seed)
    write_synthetic_file(
        single / "b.trades.dbn.zst", "trades", 2_000, n_instruments=4, seed=seed + 1
    )


def write_all_inputs(base: Path, seed: int = 1) -> None:
    write_vix(base, seed)
    write_alpaca(base, seed)
    write_databento(base, seed)


# dataset name -> (folder under data/ingested, time column)
DATASETS = {
    "vix/vix_daily": ("vix/vix_daily", "date"),
    "alpaca/eq_1m": ("alpaca/eq_1m", "timestamp"),
    "databento/glbx/trades": ("databento/glbx/schema=trades", "ts_event"),
    "databento/glbx/mbp-1": ("databento/glbx/schema=mbp-1", "ts_event"),
    "databento/es_trades": ("databento/es_trades", "ts_event"),
}


def stored_files(data_dir: Path, folder: str) -> list[Path]:
    """The engine's current outputs of a dataset (not its table's content-named links)."""
    return engine_outputs(data_dir / "ingested" / folder, recursive=True)


def reference(files: list[Path], time_column: str) -> pd.DataFrame:
    """The files read one by one with pyarrow, concatenated in path order and stably sorted
    by time then symbol."""
    table = pa.concat_tables([pq.read_table(path) for path in files])
    frame = table.to_pandas()
    return frame.sort_values([time_column, "symbol"], kind="stable").reset_index(drop=True)


def assert_same_rows(got: pa.Table, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.to_pandas(), want.reset_index(drop=True), check_exact=True)
