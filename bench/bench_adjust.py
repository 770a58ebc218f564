"""Benchmark: an adjusted read of one symbol over a year costs at most 1.5x the raw read.

Makes minute bars of ``--symbols`` symbols over ``--days`` sessions (390 a day) as monthly
DBN files, and a Databento adjustment-factors file (a split and quarterly dividends for
each of them, every row repeated as the vendor does, plus ``--other-events`` events of
other symbols), ingests both with a real offline run, then times (median of ``--repeat``):
  - ``Catalog.read(name, symbol)`` over the year (raw);
  - the same with ``adjust="all", adjustments=...`` (adjusted);
  - ``Catalog.bars(name, "1d", symbol, adjust="all", ...)`` (adjusted daily bars).

Usage (from the repo root, in .venv):
    python bench/bench_adjust.py [--out-dir bench/out/adjust] [--symbols 10] [--days 252]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.backtest.helpers writes the DBN files

from multigate import Catalog  # noqa: E402
from multigate.cli import main  # noqa: E402
from tests.backtest.helpers import write_records  # noqa: E402

CONFIG = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - {name: bars, mode: offline, path: inputs/bars/*.dbn.zst}
      - {name: factors, mode: offline, path: inputs/factors.jsonl, schema: adjustment-factors}
"""


def sessions(count: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2024-01-02", periods=count, tz="UTC")


def write_inputs(base: Path, symbols: int, days: int, other_events: int) -> None:
    bars = base / "inputs/bars"
    bars.mkdir(parents=True)
    opens = sessions(days) + pd.Timedelta(hours=14, minutes=30)
    minutes = np.arange(390, dtype=np.int64) * 60_000_000_000
    times = (opens.as_unit("ns").asi8[:, None] + minutes[None, :]).ravel()
    months = pd.DatetimeIndex(times, tz="UTC").month
    for month in np.unique(months):
        chosen = times[months == month]
        write_records(
            bars / f"m{month:02d}.ohlcv-1m.dbn.zst",
            "ohlcv-1m",
            {iid: chosen for iid in range(1, symbols + 1)},
            seed=int(month),
            dataset="XNAS.ITCH",
        )
    records = []
    days_list = sessions(days)
    for iid in range(1, symbols + 1):
        for quarter, day in enumerate(days_list[30::63]):
            event = {"event": "DIV", "factor": 0.995, "event_id": f"D{iid}-{quarter}"}
            records += [{**event, "symbol": f"SYM{iid}", "ex_date": f"{day:%Y-%m-%d}"}] * 2
        split = days_list[len(days_list) // 2]
        event = {"event": "FSPLT", "factor": 0.5, "event_id": f"S{iid}"}
        records += [{**event, "symbol": f"SYM{iid}", "ex_date": f"{split:%Y-%m-%d}"}] * 2
    for n in range(other_events):
        day = days_list[n % len(days_list)]
        records.append(
            {"event": "DIV", "factor": 0.99, "event_id": f"O{n}", "symbol": f"OTH{n}",
             "ex_date": f"{day:%Y-%m-%d}"}
        )  # fmt: skip
    lines = [json.dumps({"status": "A", **record}) for record in records]
    (base / "inputs/factors.jsonl").write_text("\n".join(lines) + "\n")


def interleaved_medians(actions: list[Callable[[], object]], repeat: int) -> list[float]:
    """Median seconds of each action, run in turns (so a busy machine slows all alike)."""
    for action in actions:
        action()  # warm the page cache and imports
    samples: list[list[float]] = [[] for _ in actions]
    for _ in range(repeat):
        for index, action in enumerate(actions):
            began = time.perf_counter()
            action()
            samples[index].append(time.perf_counter() - began)
    return [statistics.median(times) for times in samples]


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench/out/adjust")
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--days", type=int, default=252)
    parser.add_argument("--other-events", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    shutil.rmtree(args.out_dir, ignore_errors=True)
    args.out_dir.mkdir(parents=True)
    write_inputs(args.out_dir, args.symbols, args.days, args.other_events)
    (args.out_dir / "ingest.yaml").write_text(CONFIG)
    began = time.perf_counter()
    code = main(["--config", str(args.out_dir / "ingest.yaml"), "--quiet"])
    if code != 0:
        raise SystemExit(f"ingest failed with {code}")
    print(f"ingest: {time.perf_counter() - began:.1f} s")
    catalog = Catalog.open(args.out_dir / "data")
    options = {"adjust": "all", "adjustments": "databento/factors"}
    rows = catalog.read("databento/bars", "SYM3").num_rows
    raw, adjusted, daily = interleaved_medians(
        [
            lambda: catalog.read("databento/bars", "SYM3"),
            lambda: catalog.read("databento/bars", "SYM3", **options),
            lambda: catalog.bars("databento/bars", "1d", "SYM3", **options),
        ],
        args.repeat,
    )
    print(f"one symbol over {args.days} sessions: {rows:,} rows")
    print(f"raw read:            {raw * 1e3:8.2f} ms")
    print(f"adjusted read:       {adjusted * 1e3:8.2f} ms  ({adjusted / raw:.2f}x raw)")
    print(f"adjusted daily bars: {daily * 1e3:8.2f} ms  ({daily / raw:.2f}x raw)")


if __name__ == "__main__":
    main_bench()
