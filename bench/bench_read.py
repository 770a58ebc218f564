"""Benchmark: reads of one symbol over a year and one symbol-day, Catalog.read against
ArcticDB (LMDB, one symbol per key) and DuckDB's read_parquet on the same files.

Makes one DBN ohlcv-1m file (``--symbols`` x ``--days`` weekdays x 390 minutes, in the
vendor's (time, instrument) order, built with databento_dbn), converts it through the real
offline Databento job (``multigate ingest``), writes the same rows to an ArcticDB LMDB
library (one symbol per key, indexed by ts_event), then times, systems alternated:

- one symbol over the whole year;
- one symbol-day (a different symbol and day each round, the same for every system).

Prints the median wall ms and rows/s of each, the median CPU ms of the process (all
threads: on a shared machine, wall times follow the load), and, from a fresh child
process per system, the
peak memory (VmHWM) of 20 year reads above the process's memory once its imports are done.

Usage (from the repo root, in .venv, with the ``bench`` extra installed):
    python bench/bench_read.py [--symbols 20] [--days 252] [--repeat 20]
        [--out-dir bench/out/read]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _measure import peak_rss_mb, run_child

MINUTES = 390
NS = 1_000_000_000
JOB = "bars"
CONFIG = """\
data_dir: {data}
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: {job}
        mode: offline
        path: "{src}"
"""


def sessions(count: int) -> list[date]:
    days, day = [], date(2024, 1, 2)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def symbol_name(index: int) -> str:
    return f"S{index:03d}"


def make_dbn(path: Path, symbols: int, days: list[date]) -> int:
    """An ohlcv-1m DBN v3 file, minutes in order and instruments in order within a minute."""
    from multigate.sources.databento.dbn_synthetic import encode_metadata, record_dtype, write_dbn

    first = int(datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC).timestamp()) * NS
    last_day = days[-1] + timedelta(days=1)
    end = int(datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC).timestamp()) * NS
    mappings = {symbol_name(i): [(days[0], last_day, str(i + 1))] for i in range(symbols)}
    header = encode_metadata("ohlcv-1m", first, end, mappings, dataset="XNAS.ITCH")
    dtype = record_dtype("ohlcv-1m")
    rng = np.random.default_rng(1)

    def chunks() -> Iterator[np.ndarray]:  # one session at a time
        walk = 100 + rng.standard_normal(symbols).cumsum()
        for day in days:
            open_ns = int(datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC).timestamp())
            stamps = (open_ns + 60 * np.arange(MINUTES)) * NS
            n = MINUTES * symbols
            recs = np.zeros(n, dtype=dtype)
            recs["length"] = dtype.itemsize // 4
            recs["rtype"] = 0x21  # OHLCV_1M
            recs["publisher_id"] = 2
            recs["instrument_id"] = np.tile(np.arange(1, symbols + 1), MINUTES)
            recs["ts_event"] = np.repeat(stamps, symbols)
            steps = rng.standard_normal((MINUTES, symbols)).cumsum(axis=0) * 0.05 + walk
            walk = steps[-1]
            close = (steps.ravel() * 1e9).astype(np.int64)
            recs["open"] = close - 10_000_000
            recs["high"] = close + 50_000_000
            recs["low"] = close - 50_000_000
            recs["close"] = close
            recs["volume"] = rng.integers(100, 10_000, n)
            yield recs

    write_dbn(path, header, chunks())
    return symbols * len(days) * MINUTES


def ingest(out: Path, src: Path) -> Path:
    """Convert ``src`` with the real offline job into ``out/data``; the data folder."""
    from multigate.cli import main

    data = out / "data"
    shutil.rmtree(data, ignore_errors=True)
    config = out / "ingest.yaml"
    config.write_text(CONFIG.format(data=data, job=JOB, src=src))
    started = time.perf_counter()
    code = main(["--config", str(config), "-q", "--yes"])
    if code != 0:
        raise SystemExit(f"ingest exited {code}")
    print(f"ingest: {time.perf_counter() - started:.1f} s")
    return data


def dataset_name(data: Path) -> str:
    from multigate import Catalog

    (info,) = Catalog.open(data, rebuild=True).datasets()
    return info.name


def parquet_files(data: Path) -> list[str]:
    """The files of the datasets' current versions (what their Delta logs name), the
    same files the catalog reads."""
    from multigate import Catalog

    catalog = Catalog.open(data)
    return sorted(str(path) for info in catalog.datasets() for path in catalog.files(info.name))


def make_arctic(out: Path, data: Path, symbols: int) -> None:
    """One ArcticDB key per symbol, indexed by ts_event, the same columns as the files."""
    import arcticdb as adb
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    warnings.filterwarnings("ignore")  # ArcticDB's pandas deprecations
    shutil.rmtree(out / "arctic", ignore_errors=True)
    library = adb.Arctic(f"lmdb://{out / 'arctic'}").get_library("bars", create_if_missing=True)
    table = pq.read_table(parquet_files(data))
    for index in range(symbols):
        name = symbol_name(index)
        frame = table.filter(pc.equal(table["symbol"], name)).to_pandas()
        library.write(name, frame.set_index("ts_event"))


class Systems:
    """The three readers, each answering (symbol, start, end) with a table in memory."""

    def __init__(self, out: Path, data: Path, name: str) -> None:
        import arcticdb as adb
        import duckdb

        from multigate import Catalog

        self.catalog = Catalog.open(data)
        self.name = name
        self.library = adb.Arctic(f"lmdb://{out / 'arctic'}").get_library("bars")
        self.duck = duckdb.connect()
        self.files = parquet_files(data)

    def ours(self, symbol: str, start: datetime, end: datetime) -> int:
        return int(self.catalog.read(self.name, symbols=symbol, start=start, end=end).num_rows)

    def arctic(self, symbol: str, start: datetime, end: datetime) -> int:
        return len(
            self.library.read(symbol, date_range=(start, end - timedelta(microseconds=1))).data
        )

    def duckdb(self, symbol: str, start: datetime, end: datetime) -> int:
        query = (
            "SELECT * FROM read_parquet(?) WHERE symbol = ? AND ts_event >= ? AND ts_event < ? "
            "ORDER BY ts_event"
        )
        return int(
            self.duck.execute(query, [self.files, symbol, start, end]).to_arrow_table().num_rows
        )

    def by_name(self) -> dict[str, Callable[[str, datetime, datetime], int]]:
        return {"Catalog.read": self.ours, "ArcticDB": self.arctic, "DuckDB": self.duckdb}


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def time_reads(
    systems: Systems, symbols: int, days: list[date], repeat: int
) -> dict[str, dict[str, tuple[float, float, int]]]:
    """Median wall ms, median CPU ms (every thread of the process) and rows of each read,
    per system, systems alternated each round."""
    rng = random.Random(3)
    year = (_utc(days[0]), _utc(days[-1] + timedelta(days=1)))
    reads = {
        "symbol-year": [(symbol_name(rng.randrange(symbols)), *year) for _ in range(repeat)],
        "symbol-day": [
            (symbol_name(rng.randrange(symbols)), _utc(d), _utc(d + timedelta(days=1)))
            for d in (rng.choice(days) for _ in range(repeat))
        ],
    }
    found: dict[str, dict[str, tuple[float, float, int]]] = {}
    for kind, picks in reads.items():
        times: dict[str, list[float]] = {name: [] for name in systems.by_name()}
        cpu: dict[str, list[float]] = {name: [] for name in systems.by_name()}
        rows: dict[str, set[int]] = {name: set() for name in systems.by_name()}
        for read in systems.by_name().values():
            read(*picks[0])  # warm up
        for round_, pick in enumerate(picks):
            order = list(systems.by_name().items())
            if round_ % 2:
                order.reverse()
            for name, read in order:
                started, used = time.perf_counter(), time.process_time()
                rows[name].add(read(*pick))
                times[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - used)
        found[kind] = {
            name: (
                statistics.median(times[name]) * 1000,
                statistics.median(cpu[name]) * 1000,
                max(rows[name]),
            )
            for name in times
        }
        if len({frozenset(r) for r in rows.values()}) != 1:
            raise SystemExit(f"{kind}: the systems returned different row counts: {rows}")
    return found


def _child(system: str, out: Path, data: Path, name: str, days: int) -> None:
    """Peak memory of 20 year reads of one system above its memory after set-up."""
    import json

    warnings.filterwarnings("ignore")
    systems = Systems(out, data, name)
    read = systems.by_name()[system]
    first = sessions(days)
    span = (_utc(first[0]), _utc(first[-1] + timedelta(days=1)))
    base = float(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6
    for _ in range(20):
        read(symbol_name(0), *span)
    print(json.dumps({"peak_mb": peak_rss_mb() - base}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        system, out, data, name, days = sys.argv[2:7]
        _child(system, Path(out), Path(data), name, int(days))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=252)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out/read"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # ArcticDB's pandas deprecations
    out = args.out_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    days = sessions(args.days)
    src = out / "bars.ohlcv-1m.dbn.zst"
    rows = make_dbn(src, args.symbols, days)
    print(f"{rows:,} one-minute bars, {args.symbols} symbols x {len(days)} sessions")
    data = ingest(out, src)
    name = dataset_name(data)
    files = parquet_files(data)
    size = sum(Path(path).stat().st_size for path in files) / 1e6
    print(f"dataset {name}: {len(files)} file(s), {size:.1f} MB")
    make_arctic(out, data, args.symbols)
    found = time_reads(Systems(out, data, name), args.symbols, days, args.repeat)
    peaks: dict[str, Any] = {
        system: run_child(__file__, system, str(out), str(data), name, str(args.days))["peak_mb"]
        for system in ("Catalog.read", "ArcticDB", "DuckDB")
    }
    print(
        f"{'read':<13}{'system':<14}{'median ms':>10}{'rows':>9}{'rows/s':>14}{'vs Arctic':>10}"
        f"{'CPU ms':>9}{'vs Arctic':>10}"
    )
    for kind, by_system in found.items():
        arctic_ms, arctic_cpu, _ = by_system["ArcticDB"]
        for system, (ms, cpu_ms, count) in by_system.items():
            print(
                f"{kind:<13}{system:<14}{ms:>10.2f}{count:>9,}{count / ms * 1000:>14,.0f}"
                f"{ms / arctic_ms:>9.1f}x{cpu_ms:>9.2f}{cpu_ms / arctic_cpu:>9.1f}x"
            )
    print(
        "peak memory above set-up, 20 symbol-year reads (MB): "
        + ", ".join(f"{system} {mb:.0f}" for system, mb in peaks.items())
    )


if __name__ == "__main__":
    main()
