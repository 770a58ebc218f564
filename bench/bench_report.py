"""Benchmark: coverage + quality + the HTML report over >= 20,000 outputs.

Writes sidecars the way the ingest writes them (``Provenance`` with a ``quality`` field made
by ``assess_parquet`` on small real Parquet files, then re-dated per output) for:
- Databento API-shaped daily chunks: SYMBOLS x DAYS outputs of one symbol-day each (CMES);
- Alpaca-shaped per-symbol outputs over a month of minute bars (XNYS);
each output a hard link to its template Parquet file (the same rows in every output: the
bytes to read are real, their times are the template's). Times, in a fresh subprocess, the
report from sidecars alone (no Parquet opened) and the report with its pictures (prices,
volume, null counts, holes: footers and a row budget), and prints seconds and peak RSS.

Usage (from the repo root, in .venv):
    python bench/bench_report.py [--databento-symbols 66] [--days 250] [--alpaca-symbols 4000]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _measure import peak_rss_mb, run_child


def _quality_template(folder: Path, kind: str) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from multigate.quality.assess import assess_parquet
    from multigate.storage.parquet import write_parquet

    if kind == "trades":
        ts = pd.date_range("2024-01-02 14:30", periods=5000, freq="5s", tz="UTC")
        frame = pd.DataFrame({"ts_recv": ts, "ts_event": ts, "action": "T",
                              "price": 4500.0 + np.arange(5000) * 0.01, "symbol": "X"})  # fmt: skip
        calendar = "CMES"
    else:
        days = pd.bdate_range("2024-01-02", "2024-01-31")
        ts = pd.DatetimeIndex(
            [
                t
                for d in days
                for t in pd.date_range(f"{d.date()} 14:30", periods=390, freq="1min", tz="UTC")
            ]
        )
        frame = pd.DataFrame({"symbol": "X", "timestamp": ts, "open": 10.0, "high": 10.5,
                              "low": 9.5, "close": 10.0, "volume": 1.0})  # fmt: skip
        calendar = "XNYS"
    path = folder / f"template-{kind}.parquet"
    write_parquet(pa.Table.from_pandas(frame, preserve_index=False), path)
    return assess_parquet(path, calendar=calendar)


def _write(path: Path, record: dict[str, Any], template: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.link(template, path)  # real Parquet bytes, no extra disk
    Path(f"{path}.source.json").write_text(json.dumps(record, indent=2, sort_keys=True))


def _make(data: Path, db_symbols: int, days: int, alpaca_symbols: int) -> int:
    from multigate.storage.provenance import FileDigest, Provenance

    data.mkdir(parents=True, exist_ok=True)
    trades = _quality_template(data.parent, "trades")
    bars = _quality_template(data.parent, "bars")
    templates = {kind: data.parent / f"template-{kind}.parquet" for kind in ("trades", "bars")}
    first = date(2023, 1, 3)
    sessions = [
        first + timedelta(days=i)
        for i in range(int(days * 1.5))
        if (first + timedelta(days=i)).weekday() < 5
    ][:days]
    count = 0
    created = datetime(2026, 11, 26, tzinfo=UTC)
    for s in range(db_symbols):
        symbol = f"F{s:03d}.c.0"
        for day in sessions:
            if (s + day.toordinal()) % 97 == 0:
                continue  # a few missing sessions
            quality = copy.deepcopy(trades)
            ((_, text),) = quality["sessions"].items()
            _, _, rest = text.partition(",")
            quality["sessions"] = {symbol: f"{day.isoformat()},{rest}"}  # same hours, new day
            rows = int(rest.split(",")[0])
            name = f"ingested/databento/es_api/schema=trades/{symbol}/{day}.parquet"
            record = Provenance(
                kind="ingested",
                source="databento",
                job="es_api",
                mode="api",
                query={"name": "es_api"},
                file=FileDigest(name, "0" * 64, 0),
                fingerprint="f",
                vendor={"vendor": "Databento", "dataset": "GLBX.MDP3", "schema": "trades"},
                rows=rows,
                first_ts=str(day),
                last_ts=str(day),
                symbols=[symbol],
                quality=quality,
            )
            _write(data / name, json.loads(record.to_json(created)), templates["trades"])
            count += 1
    for s in range(alpaca_symbols):
        symbol = f"A{s:04d}"
        quality = copy.deepcopy(bars)
        quality["sessions"] = {symbol: quality["sessions"]["X"]}
        name = f"ingested/alpaca/eq_1m/timeframe=1Min/feed=iex/adjustment=raw/{symbol}.parquet"
        record = Provenance(
            kind="ingested",
            source="alpaca",
            job="eq_1m",
            mode="api",
            query={"name": "eq_1m"},
            file=FileDigest(name, "0" * 64, 0),
            fingerprint="f",
            vendor={
                "vendor": "Alpaca",
                "asset_class": "stocks",
                "timeframe": "1Min",
                "feed": "iex",
            },
            rows=bars["rows"],
            first_ts="2024-01-02",
            last_ts="2024-01-31",
            symbols=[symbol],
            quality=quality,
        )
        _write(data / name, json.loads(record.to_json(created)), templates["bars"])
        count += 1
    return count


def _child(data: Path, out: Path) -> None:
    from multigate.html_report.collect import collect_datasets, read_databento_ledger
    from multigate.html_report.render import render_report
    from multigate.quality.coverage import coverage

    start = time.perf_counter()
    datasets = collect_datasets(data)
    loaded = time.perf_counter()
    cells = sum(coverage(records).table.num_rows for _, records in datasets)
    covered = time.perf_counter()
    shown = [(name, records, []) for name, records in datasets]
    page = render_report(shown, read_databento_ledger(data))
    done = time.perf_counter()
    full = render_report(shown, read_databento_ledger(data), data_dir=data)
    out.write_text(full)
    pictured = time.perf_counter()
    print(json.dumps({
        "outputs": sum(len(r) for _, r in datasets), "cells": cells, "load": loaded - start,
        "coverage": covered - loaded, "report": done - covered, "total": done - start,
        "pictures": pictured - done, "html_mb": len(page) / 1e6, "full_mb": len(full) / 1e6,
        "rss_mb": peak_rss_mb(),
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databento-symbols", type=int, default=66)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--alpaca-symbols", type=int, default=4000)
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out"))
    parser.add_argument("--child", nargs=2, metavar=("DATA", "OUT"))
    args = parser.parse_args()
    if args.child:
        _child(Path(args.child[0]), Path(args.child[1]))
        return
    data = args.out_dir / "report_linked" / "data"
    if not data.is_dir():
        made = _make(data, args.databento_symbols, args.days, args.alpaca_symbols)
        print(f"wrote {made:,} sidecars under {data}")
    result = run_child(__file__, str(data), str(data.parent / "report.html"))
    print(
        f"{int(result['outputs']):,} outputs, {int(result['cells']):,} symbol-sessions: "
        f"read sidecars {result['load']:.2f} s; coverage of every dataset "
        f"{result['coverage']:.2f} s (with the read: {result['load'] + result['coverage']:.2f} s); "
        f"report incl. its coverage {result['report']:.2f} s (with the read: "
        f"{result['load'] + result['report']:.2f} s); HTML {result['html_mb']:.1f} MB; "
        f"the report with its pictures (prices, nulls, holes) {result['pictures']:.2f} s, "
        f"HTML {result['full_mb']:.1f} MB; peak RSS {result['rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
