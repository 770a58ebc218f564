"""Shared bits of the VIX tests: sample CSVs and an independent reference decoding."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from multigate.sample.vix import SEED, cboe_csv, fred_csv, synthetic_history


def cboe_bytes(seed: int = SEED, days: int = 600) -> bytes:
    return cboe_csv(synthetic_history(seed=seed, days=days))


def fred_bytes(days: int = 600) -> bytes:
    return fred_csv(synthetic_history(days=days))


def reference_frame(csv: bytes, symbol: str) -> pd.DataFrame:
    """Decode a CBOE or FRED CSV with pandas alone, as the expected output."""
    frame = pd.read_csv(io.BytesIO(csv), na_values=["."], keep_default_na=True)
    first = frame.columns[0]
    if len(frame.columns) == 2:
        frame = frame.rename(columns={frame.columns[1]: "close"})
        for column in ("open", "high", "low"):
            frame[column] = float("nan")
        dates = pd.to_datetime(frame[first], format="%Y-%m-%d")
    else:
        frame.columns = [column.lower() for column in frame.columns]
        dates = pd.to_datetime(frame[first.lower()], format="%m/%d/%Y")
    out = pd.DataFrame({"date": dates.dt.date, "symbol": symbol})
    for column in ("open", "high", "low", "close"):
        out[column] = frame[column].astype("float64")
    return out.sort_values(["symbol", "date"]).reset_index(drop=True)


def read_output(path: Path) -> pd.DataFrame:
    frame = pq.read_table(path).to_pandas()
    return frame.reset_index(drop=True)


def assert_matches_reference(path: Path, csv: bytes, symbol: str) -> None:
    got = read_output(path)
    want = reference_frame(csv, symbol)
    assert list(got.columns) == ["date", "symbol", "open", "high", "low", "close"]
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
