"""Benchmark: the VIX CSV and Alpaca bar converters (parse + Parquet write).

Generates a synthetic CBOE CSV and an Alpaca JSON body with the project's own sample code,
converts each in a fresh subprocess, and prints rows/s and peak RSS (VmHWM).

Usage (from the repo root, in .venv):
    python bench/bench_text_sources.py [--rows 1000000] [--out-dir bench/out]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _measure import peak_rss_mb


def _child(kind: str, src: Path, dst: Path) -> None:
    start = time.perf_counter()
    if kind == "vix":
        from multigate.sources.vix.csv_format import parse_index_csv
        from multigate.storage.parquet import write_parquet

        table = parse_index_csv(src.read_bytes(), str(src), "VIX").table
    else:
        from multigate.sources.alpaca.bars_read import read_bars_file
        from multigate.storage.parquet import write_parquet

        table = read_bars_file(src)
    write_parquet(table, dst)
    elapsed = time.perf_counter() - start
    print(json.dumps({"elapsed": elapsed, "rows": table.num_rows, "rss_mb": peak_rss_mb()}))


def _make_inputs(rows: int, folder: Path) -> dict[str, Path]:
    from datetime import UTC, datetime, timedelta

    from multigate.sample.vix import cboe_csv, synthetic_history
    from multigate.sources.alpaca.raw_store import encode_raw_bars

    folder.mkdir(parents=True, exist_ok=True)
    vix = folder / "VIX_History.csv"
    vix.write_bytes(cboe_csv(synthetic_history(days=rows)))
    start = datetime(2020, 1, 1, tzinfo=UTC)
    bars = [
        {
            "t": (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "o": 100.0,
            "h": 101.0,
            "l": 99.0,
            "c": 100.5,
            "v": 1000 + i,
            "n": 10,
            "vw": 100.2,
        }
        for i in range(rows)
    ]
    alpaca = folder / "bars.json.gz"
    alpaca.write_bytes(encode_raw_bars({"SPY": bars}))
    return {"vix": vix, "alpaca": alpaca}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, src, dst = args.child
        _child(kind, Path(src), Path(dst))
        return
    inputs = _make_inputs(args.rows, args.out_dir)
    print(f"{'converter':<10} {'rows':>10} {'seconds':>8} {'rows/s':>12} {'peak RSS MB':>12}")
    for kind, src in inputs.items():
        dst = args.out_dir / f"{kind}.parquet"
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(src), str(dst)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rate = result["rows"] / result["elapsed"]
        print(
            f"{kind:<10} {result['rows']:>10,} {result['elapsed']:>8.2f} {rate:>12,.0f} "
            f"{result['rss_mb']:>12.0f}"
        )


if __name__ == "__main__":
    main()
