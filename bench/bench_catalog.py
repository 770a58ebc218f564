"""Benchmark: the catalog over >= 20,000 small outputs, and a bounded-memory scan.

1. Writes a dataset of minute bars, one Parquet file (+ sidecar) per symbol per session
   (80 symbols x 252 sessions = 20,160 outputs), commits them to the dataset's Delta table
   once, then:
   - opens the catalog (tables' records present): median of 20; and from the logs alone;
   - reads one symbol-day with ``Catalog.read`` vs ``pyarrow.parquet.read_table(path)``
     (median of 20 random symbol-days, same process);
   - reads one symbol over the year vs pyarrow reading exactly those 252 files
     (``pyarrow.dataset.dataset(paths).to_table()``), median of 20.
2. Commits of that 20,160-output job: ``--snapshot-runs`` runs that each add one output
   (a daily update), and one run that changes nothing: bytes each run adds to the table's
   ``_delta_log`` (its ``.entries.arrow`` is rewritten: its size is printed) and the run-end cost
   (``commit_job``), median over the runs. The added outputs are removed afterwards.
3. Writes a 20M-row trades dataset (20 daily files) and scans it with ``Catalog.scan`` in a
   fresh process, printing rows/s and peak RSS (VmHWM).

Usage (from the repo root, in .venv):
    python bench/bench_catalog.py [--out-dir bench/out/catalog] [--symbols 80] [--days 252]
        [--scan-rows 20000000] [--snapshot-runs 5] [--parts reads snapshots scan]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from _measure import peak_rss_mb, run_child

from multigate.storage.delta_tables import is_versioned_name
from multigate.storage.layout import sidecar_path
from multigate.storage.parquet import write_parquet
from multigate.storage.provenance import FileDigest, Provenance, sha256_of

MINUTES = 390
NS = 1_000_000_000


def sessions(count: int) -> list[date]:
    days, day = [], date(2024, 1, 2)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _publish(data_dir: Path, path: Path, table: pa.Table, job: str, symbols: list[str]) -> None:
    """Write ``table`` and its sidecar plainly (fast; the real runs write them atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(table, path)
    stamps = table.column(1 if table.column_names[1] == "timestamp" else 0)
    record = Provenance(
        kind="ingested",
        source="bench",
        job=job,
        mode="offline",
        query={},
        file=FileDigest(str(path.relative_to(data_dir)), sha256_of(path), path.stat().st_size),
        fingerprint="bench",
        rows=table.num_rows,
        first_ts=str(stamps[0]),
        last_ts=str(stamps[-1]),
        symbols=symbols,
    )
    sidecar_path(path).write_text(record.to_json(datetime.now(UTC)))


def write_bars(data_dir: Path, symbols: int, days: list[date]) -> int:
    rng = np.random.default_rng(1)
    count = 0
    for s in range(symbols):
        symbol = f"S{s:03d}"
        for day in days:
            first = int(datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC).timestamp())
            close = 100 + rng.standard_normal(MINUTES).cumsum()
            table = pa.table(
                {
                    "symbol": pa.array([symbol] * MINUTES),
                    "timestamp": pa.array(
                        (first + 60 * np.arange(MINUTES)) * NS, pa.timestamp("ns", tz="UTC")
                    ),
                    "open": close + 0.01,
                    "high": close + 0.05,
                    "low": close - 0.05,
                    "close": close,
                    "volume": rng.integers(100, 10_000, MINUTES).astype(np.float64),
                }
            )
            path = data_dir / f"ingested/bench/bars/symbol={symbol}/{day.isoformat()}.parquet"
            _publish(data_dir, path, table, "bars", [symbol])
            count += 1
    return count


def write_trades(data_dir: Path, rows: int, files: int = 20) -> None:
    rng = np.random.default_rng(2)
    per_file = rows // files
    names = [f"T{i:02d}" for i in range(10)]
    for f in range(files):
        start = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp()) * NS + f * 86_400 * NS
        recv = start + np.sort(rng.integers(0, 86_400 * NS, per_file))
        codes = rng.integers(0, len(names), per_file)
        table = pa.table(
            {
                "ts_recv": pa.array(recv, pa.timestamp("ns", tz="UTC")),
                "ts_event": pa.array(recv - 1_500, pa.timestamp("ns", tz="UTC")),
                "price": rng.random(per_file) * 100,
                "size": rng.integers(1, 100, per_file).astype(np.uint32),
                "symbol": pa.DictionaryArray.from_arrays(codes, names).cast(pa.string()),
            }
        )
        path = data_dir / f"ingested/bench/trades/day{f:02d}.parquet"
        _publish(data_dir, path, table, "trades", names)
        del table


def median_ms(action: Callable[[], object], repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _table_file(path: Path) -> bool:
    """A table's own file (a content-named link, its entries), not an engine output."""
    return is_versioned_name(path.name) or path.name.startswith(".")


def make_tables(data_dir: Path) -> float:
    """Commit every job's outputs to its table (a run does this as each job ends)."""
    from multigate.storage.delta_tables import RunInfo, commit_job, new_run_id

    started = time.perf_counter()
    for job in ("bars", "trades"):
        folder = data_dir / "ingested/bench" / job
        if folder.is_dir() and not (folder / "_delta_log").is_dir():
            outputs = [p for p in folder.rglob("*.parquet") if not _table_file(p)]
            run = RunInfo(new_run_id(datetime.now(UTC)), {"name": job})
            commit_job(data_dir, "bench", job, sorted(outputs), run)
    return time.perf_counter() - started


def bench_reads(data_dir: Path, symbols: int, days: list[date]) -> dict[str, float]:
    from multigate import Catalog

    build_s = median_ms(lambda: Catalog.open(data_dir, rebuild=True), 3) / 1000
    open_ms = median_ms(lambda: Catalog.open(data_dir))
    catalog = Catalog.open(data_dir)
    info = catalog.dataset("bench/bars")
    rng = random.Random(3)
    picks = [(f"S{rng.randrange(symbols):03d}", rng.choice(days)) for _ in range(20)]

    def path_of(symbol: str, day: date) -> Path:
        return data_dir / f"ingested/bench/bars/symbol={symbol}/{day.isoformat()}.parquet"

    # warm both paths once (imports, OS cache)
    catalog.read(
        "bench/bars", symbols=picks[0][0], start=picks[0][1], end=picks[0][1] + timedelta(days=1)
    )
    pq.read_table(path_of(*picks[0]))
    ours, theirs = [], []
    for symbol, day in picks:
        end = day + timedelta(days=1)
        ours.append(
            median_ms(
                lambda s=symbol, d=day, e=end: catalog.read(
                    "bench/bars", symbols=s, start=d, end=e
                ),
                1,
            )
        )
        theirs.append(median_ms(lambda s=symbol, d=day: pq.read_table(path_of(s, d)), 1))
        got = catalog.read("bench/bars", symbols=symbol, start=day, end=end)
        assert got.equals(pq.read_table(path_of(symbol, day))), (symbol, day)
    year_symbol = picks[0][0]
    paths = [str(path_of(year_symbol, day)) for day in days]
    year_ours = median_ms(
        lambda: catalog.read(
            "bench/bars", symbols=year_symbol, start="2024-01-01", end="2025-01-01"
        )
    )
    year_theirs = median_ms(lambda: ds.dataset(paths, format="parquet").to_table())
    year_read_table = median_ms(lambda: pa.concat_tables([pq.read_table(p) for p in paths]))
    return {
        "outputs": info.files,
        "rows": info.rows,
        "index_build_s": build_s,
        "open_ms": open_ms,
        "symbol_day_ms": statistics.median(ours),
        "symbol_day_pyarrow_ms": statistics.median(theirs),
        "year_ms": year_ours,
        "year_pyarrow_dataset_ms": year_theirs,
        "year_pyarrow_read_table_ms": year_read_table,
    }


def tree_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def bench_snapshots(data_dir: Path, runs: int) -> dict[str, float]:
    """``runs`` runs adding one output each to the bars table, then one run that changes
    nothing; clean up afterwards (the table keeps the versions: it is rebuilt next time)."""
    from multigate.storage.delta_tables import RunInfo, commit_job, new_run_id

    folder = data_dir / "ingested/bench/bars"
    outputs = sorted(p for p in folder.rglob("*.parquet") if not _table_file(p))
    added_dir = folder / "symbol=ADDED"

    def table_bytes() -> int:
        return tree_bytes(folder / "_delta_log")

    def run() -> tuple[float, int]:
        before = table_bytes()
        started = time.perf_counter()
        commit_job(data_dir, "bench", "bars", outputs, RunInfo(new_run_id(datetime.now(UTC)), {}))
        return time.perf_counter() - started, table_bytes() - before

    record_bytes = (folder / ".entries.arrow").stat().st_size
    try:
        seconds, sizes = [], []
        for index in range(runs):
            table = pq.read_table(outputs[0])
            path = added_dir / f"{index:03d}.parquet"
            _publish(data_dir, path, table, "bars", ["S000"])
            outputs.append(path)
            elapsed, size = run()
            seconds.append(elapsed)
            sizes.append(size)
        unchanged_s, unchanged_bytes = run()
    finally:
        shutil.rmtree(added_dir, ignore_errors=True)
        shutil.rmtree(folder / "_delta_log", ignore_errors=True)
        (folder / ".source.json").unlink(missing_ok=True)
        (folder / ".entries.arrow").unlink(missing_ok=True)
        for linked in folder.rglob("*.v-*.parquet"):
            linked.unlink()
    return {
        "outputs": len(outputs) - runs,
        "first_s": 0.0,
        "first_bytes": record_bytes,
        "run_s": statistics.median(seconds),
        "run_bytes": statistics.median(sizes),
        "run_bytes_max": max(sizes),
        "unchanged_s": unchanged_s,
        "unchanged_bytes": unchanged_bytes,
    }


def child_scan(data_dir: Path) -> None:
    from multigate import Catalog

    started = time.perf_counter()
    catalog = Catalog.open(data_dir)
    rows, batches, last = 0, 0, None
    for batch in catalog.scan("bench/trades"):
        stamps = batch.column(1)
        if last is not None and batch.num_rows:
            assert stamps[0].value >= last
        if batch.num_rows:
            last = stamps[batch.num_rows - 1].value
        rows += batch.num_rows
        batches += 1
    elapsed = time.perf_counter() - started
    print(
        json.dumps({"rows": rows, "batches": batches, "elapsed": elapsed, "rss_mb": peak_rss_mb()})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out/catalog"))
    parser.add_argument("--symbols", type=int, default=80)
    parser.add_argument("--days", type=int, default=252)
    parser.add_argument("--scan-rows", type=int, default=20_000_000)
    parser.add_argument("--snapshot-runs", type=int, default=5)
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["reads", "snapshots", "scan"],
        default=["reads", "snapshots", "scan"],
    )
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        child_scan(Path(args.child[0]))
        return
    data_dir = args.out_dir.resolve()
    days = sessions(args.days)
    bars = data_dir / "ingested/bench/bars"
    if not bars.is_dir():
        started = time.perf_counter()
        count = write_bars(data_dir, args.symbols, days)
        print(f"wrote {count:,} outputs in {time.perf_counter() - started:.1f} s")
    if "scan" in args.parts and not (data_dir / "ingested/bench/trades").is_dir():
        started = time.perf_counter()
        write_trades(data_dir, args.scan_rows)
        print(f"wrote {args.scan_rows:,} trades in {time.perf_counter() - started:.1f} s")
    print(f"made the tables (one commit each) in {make_tables(data_dir):.1f} s")
    if "reads" in args.parts:
        print_reads(bench_reads(data_dir, args.symbols, days), days)
    if "snapshots" in args.parts:
        print_snapshots(bench_snapshots(data_dir, args.snapshot_runs), args.snapshot_runs)
    if "scan" in args.parts:
        print_scan(data_dir)


def print_snapshots(result: dict[str, float], runs: int) -> None:
    print(f"commits to the table of a job of {result['outputs']:,.0f} outputs")
    print(f"  the table's entries (.entries.arrow): {result['first_bytes'] / 1e6:.2f} MB")
    print(
        f"  {runs} runs adding one output each: {result['run_bytes']:,.0f} bytes per run "
        f"(max {result['run_bytes_max']:,.0f}), run end {result['run_s'] * 1000:.0f} ms (median)"
    )
    print(
        f"  a run changing nothing: {result['unchanged_bytes']:,.0f} bytes, "
        f"run end {result['unchanged_s'] * 1000:.0f} ms"
    )


def print_reads(result: dict[str, float], days: list[date]) -> None:
    print(f"catalog of {result['outputs']:,} outputs ({result['rows']:,} rows)")
    print(f"  Catalog.open from the logs alone      {result['index_build_s']:.2f} s")
    print(f"  Catalog.open (records present)        {result['open_ms']:.1f} ms   limit 100 ms")
    day_limit = 2 * result["symbol_day_pyarrow_ms"] + 5
    print(
        f"  one symbol-day: catalog {result['symbol_day_ms']:.2f} ms, pyarrow by path "
        f"{result['symbol_day_pyarrow_ms']:.2f} ms   limit {day_limit:.2f} ms"
    )
    year_limit = 2 * result["year_pyarrow_dataset_ms"] + 5
    print(
        f"  one symbol, {len(days)} sessions: catalog {result['year_ms']:.1f} ms, pyarrow dataset "
        f"{result['year_pyarrow_dataset_ms']:.1f} ms (read_table loop "
        f"{result['year_pyarrow_read_table_ms']:.1f} ms)   limit {year_limit:.1f} ms"
    )


def print_scan(data_dir: Path) -> None:
    scan = run_child(__file__, str(data_dir))
    rate = scan["rows"] / scan["elapsed"]
    print(
        f"scan of {scan['rows']:,.0f} rows in {scan['batches']:.0f} batches: "
        f"{scan['elapsed']:.1f} s, {rate:,.0f} rows/s, peak RSS {scan['rss_mb']:.0f} MB"
        "   limit 512 MB"
    )


if __name__ == "__main__":
    main()
