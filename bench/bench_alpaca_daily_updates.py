"""Benchmark: HTTP requests and bars served for 20 daily updates of an Alpaca job.

An `end`-less 1Min job over N symbols (390 bars a symbol a day) is run once on Feb 1, then
once a day for 20 days (the clock injected through RunContext), against the local fake
Alpaca server, whose data grows by one day before each run (it has no future bars).
Prints the requests and bars the 20 daily runs cost, their time, rows/s written and peak
RSS (VmHWM).

Usage (from the repo root, in .venv):
    python bench/bench_alpaca_daily_updates.py [--symbols 20] [--days 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import peak_rss_mb

from multigate.config.loader import load_config
from multigate.context import RunContext
from multigate.dispatcher import open_sources, preflight, run_selected, select_jobs
from tests.fakes.alpaca_server import FakeAlpacaServer, rfc3339

KEY, SECRET = "bench-key", "bench-secret"


def session_bars(first_day: datetime, days: int) -> list[dict[str, object]]:
    """390 one-minute bars a day, 14:30-21:00 UTC."""
    bars = []
    for day in range(days):
        open_at = first_day + timedelta(days=day, hours=14, minutes=30)
        for minute in range(390):
            price = 100.0 + (minute % 50) * 0.01
            bars.append(
                {
                    "t": rfc3339(open_at + timedelta(minutes=minute)),
                    "o": price,
                    "h": price + 0.1,
                    "l": price - 0.1,
                    "c": price,
                    "v": 100 + minute,
                    "n": 5,
                    "vw": price,
                }
            )
    return bars


def run_at(config: Path, now: datetime) -> int:
    loaded = load_config(config)
    selected = select_jobs(loaded)
    ctx = RunContext(
        data_dir=loaded.data_dir,
        base_dir=loaded.base_dir,
        env={"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET},
        sleep=lambda seconds: None,
        now=lambda: now,
    )
    sources = open_sources(loaded, selected, ctx)
    preflight(selected, sources)
    [outcome] = run_selected(selected, sources, dry_run=False)
    if outcome.status.name not in ("OK", "UP_TO_DATE"):
        raise SystemExit(f"run at {now:%Y-%m-%d} failed: {outcome.notes}")
    return outcome.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=20)
    args = parser.parse_args()
    symbols = [f"S{i:03d}" for i in range(args.symbols)]
    first_run = datetime(2024, 2, 1, tzinfo=UTC)
    with FakeAlpacaServer(KEY, SECRET) as server, tempfile.TemporaryDirectory() as tmp:
        server.request_cap = 10**9
        for symbol in symbols:
            server.add_bars(symbol, session_bars(datetime(2024, 1, 1, tzinfo=UTC), 31))
        config = Path(tmp) / "ingest.yaml"
        config.write_text(
            f"data_dir: {tmp}/data\n"
            "sources:\n  alpaca:\n    enabled: true\n    mode: api\n"
            f"    base_url: {server.url}\n    requests_per_minute: 0\n"
            "    jobs:\n      - name: bars\n        mode: api\n"
            f"        symbols: [{', '.join(symbols)}]\n"
            "        timeframe: 1Min\n        start: 2024-01-01\n        feed: iex\n"
        )
        run_at(config, first_run)
        before = len(server.requests)
        bars_before = sum(server.bars_served())
        started = time.perf_counter()
        rows = 0
        for day in range(1, args.days + 1):
            yesterday = first_run + timedelta(days=day - 1)
            for symbol in symbols:
                server.add_bars(symbol, session_bars(yesterday, 1))
            rows = run_at(config, first_run + timedelta(days=day))
        elapsed = time.perf_counter() - started
        requests = len(server.requests) - before
        served = sum(server.bars_served()) - bars_before
        raw_files = len(list(Path(tmp, "data", "raw").rglob("*.json.gz")))
    print(
        f"{args.days} daily updates, {args.symbols} symbols: {requests} requests, "
        f"{served} bars served, {raw_files} raw files, {elapsed:.1f} s "
        f"({rows * args.days / elapsed:,.0f} output rows/s), peak RSS {peak_rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
