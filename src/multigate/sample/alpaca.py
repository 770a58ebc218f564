"""Synthetic minute bars in the formats the Alpaca offline path reads: an API response body
(gzip JSON, short names), a CSV with long names and no symbol column, and a Parquet file."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from multigate.sources.alpaca.raw_store import encode_raw_bars
from multigate.storage.atomic import atomic_path, write_bytes_atomic

SEED = 20240102
SESSIONS = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
OPEN_UTC = (14, 30)  # 09:30 New York in January
MINUTES = 390


def synthetic_bars(symbol: str, base: float, seed: int = SEED) -> list[dict[str, Any]]:
    """Regular-session minute bars as Alpaca's API spells them (t, o, h, l, c, v, n, vw)."""
    rng = random.Random(f"{seed}-{symbol}")
    price, bars = base, []
    for session in SESSIONS:
        first = datetime(session.year, session.month, session.day, *OPEN_UTC, tzinfo=UTC)
        for minute in range(MINUTES):
            open_ = price
            close = round(max(0.01, open_ * (1 + rng.gauss(0, 0.0008))), 2)
            high = round(max(open_, close) * (1 + abs(rng.gauss(0, 0.0004))), 2)
            low = round(min(open_, close) * (1 - abs(rng.gauss(0, 0.0004))), 2)
            volume = rng.randint(200, 50_000)
            bars.append(
                {
                    "t": (first + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "o": round(open_, 2),
                    "h": high,
                    "l": low,
                    "c": close,
                    "v": volume,
                    "n": max(1, volume // rng.randint(50, 150)),
                    "vw": round((high + low + close) / 3, 4),
                }
            )
            price = close
    return bars


def _csv_bytes(bars: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "open", "high", "low", "close", "volume", "trade_count", "vwap"])
    for bar in bars:
        writer.writerow([bar[k] for k in ("t", "o", "h", "l", "c", "v", "n", "vw")])
    return out.getvalue().encode()


def _parquet(bars: list[dict[str, Any]], symbol: str, path: Path) -> None:
    table = pa.table(
        {
            "S": [symbol] * len(bars),
            **{
                key: [bar[key] for bar in bars] for key in ("t", "o", "h", "l", "c", "v", "n", "vw")
            },
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_alpaca_samples(folder: Path) -> list[Path]:
    body = folder / "json" / "bars_1Min.json.gz"
    write_bytes_atomic(
        body,
        encode_raw_bars(
            {
                "MSFT": synthetic_bars("MSFT", 370.0),
                "SPY": synthetic_bars("SPY", 470.0),
            }
        ),
    )
    csv_file = folder / "csv" / "AAPL.csv"
    write_bytes_atomic(csv_file, _csv_bytes(synthetic_bars("AAPL", 185.0)))
    parquet_file = folder / "parquet" / "QQQ.parquet"
    _parquet(synthetic_bars("QQQ", 400.0), "QQQ", parquet_file)
    return [body, csv_file, parquet_file]
