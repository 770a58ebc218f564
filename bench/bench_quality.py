"""Benchmark: ingest-time quality checks (``assess_parquet``) on multi-million-row outputs.

Writes a minute-bar table (Alpaca/Databento ohlcv shape) and a top-of-book table (mbp-1
shape) with the project's Parquet writer (1M-row groups), then assesses each in a fresh
subprocess and prints rows/s and peak RSS (VmHWM), next to the RSS of just reading the
same columns once (the floor any streaming check pays).

Usage (from the repo root, in .venv):
    python bench/bench_quality.py [--rows 5000000] [--out-dir bench/out]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _measure import peak_rss_mb, run_child


def _make_inputs(rows: int, folder: Path) -> dict[str, Path]:
    import numpy as np
    import pyarrow as pa

    from multigate.storage.parquet import write_parquet

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    symbols = 50
    per = rows // symbols
    start = np.datetime64("2024-01-02T14:30", "ns").astype(np.int64)
    minutes = start + np.arange(per, dtype=np.int64) * 60 * 10**9
    close = 100 + np.cumsum(rng.normal(0, 0.05, rows))
    bars = pa.table(
        {
            "symbol": pa.array(np.repeat([f"S{i:03d}" for i in range(symbols)], per)),
            "timestamp": pa.array(np.tile(minutes, symbols), pa.timestamp("ns", tz="UTC")),
            "open": close,
            "high": close + 0.02,
            "low": close - 0.02,
            "close": close,
            "volume": np.full(rows, 100.0),
        }
    )
    ts = start + np.sort(rng.integers(0, 5 * 86_400 * 10**9, rows))
    mid = 4500 + np.cumsum(rng.normal(0, 0.01, rows))
    book = pa.table(
        {
            "ts_recv": pa.array(ts + 1500, pa.timestamp("ns", tz="UTC")),
            "ts_event": pa.array(ts, pa.timestamp("ns", tz="UTC")),
            "action": pa.array(np.full(rows, "A")),
            "price": mid,
            "bid_px_00": mid - 0.125,
            "ask_px_00": mid + 0.125,
            "symbol": pa.array(rng.choice(["ES.c.0", "NQ.c.0", "RTY.c.0"], rows)),
        }
    )
    paths = {"bars": folder / "bars.parquet", "book": folder / "book.parquet"}
    write_parquet(bars, paths["bars"])
    write_parquet(book, paths["book"])
    return paths


def _child(mode: str, path: Path, calendar: str) -> None:
    import pyarrow.parquet as pq

    from multigate.quality.assess import assess_parquet

    start = time.perf_counter()
    if mode == "read":
        rows = sum(b.num_rows for b in pq.ParquetFile(path).iter_batches(batch_size=1 << 18))
    else:
        rows = assess_parquet(path, calendar=calendar)["rows"]
    elapsed = time.perf_counter() - start
    print(json.dumps({"elapsed": elapsed, "rows": rows, "rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out"))
    parser.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "CALENDAR"))
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]), args.child[2])
        return
    paths = _make_inputs(args.rows, args.out_dir / "quality")
    calendars = {"bars": "XNYS", "book": "CMES"}
    print(f"{'table':6} {'rows':>10} {'assess s':>9} {'rows/s':>12} {'peak MB':>8} {'read MB':>8}")
    for kind, path in paths.items():
        read = run_child(__file__, "read", str(path), calendars[kind])
        done = run_child(__file__, "assess", str(path), calendars[kind])
        rate = done["rows"] / done["elapsed"]
        print(
            f"{kind:6} {int(done['rows']):>10,} {done['elapsed']:>9.2f} {rate:>12,.0f} "
            f"{done['rss_mb']:>8.0f} {read['rss_mb']:>8.0f}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
