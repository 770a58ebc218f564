"""Catalog.join_asof never lets a value known later reach a row: against a brute-force
reference on many random tables, and on the VIX close (known 16:15 New York time) joined
onto ingested minute bars."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from multigate import Catalog
from multigate.catalog import CatalogError
from multigate.exit_codes import ExitCode
from multigate.sample.alpaca import synthetic_bars
from multigate.sample.vix import cboe_csv
from multigate.sources.alpaca.raw_store import encode_raw_bars

UTC_NS = pa.timestamp("ns", tz="UTC")


def random_table(rng: random.Random, rows: int, symbols: list[str | None], value: str) -> pa.Table:
    times = [
        None if rng.random() < 0.03 else rng.randrange(0, 60) * 1_000_000_000 for _ in range(rows)
    ]
    return pa.table(
        {
            "ts_event": pa.array(times, type=pa.int64()).cast(UTC_NS),
            "symbol": pa.array([rng.choice(symbols) for _ in range(rows)], type=pa.string()),
            value: pa.array([rng.random() for _ in range(rows)]),
        }
    )


def brute_force(
    left: pa.Table, right: pa.Table, by: str | None, delay: int, tolerance: int | None, exact: bool
) -> list[int | None]:
    """For each left row, the right row (index) the join must pick: same key, known (time +
    delay) at or before the left time (strictly before unless exact), the latest such, the
    last in the right's order on ties; within tolerance."""
    lt = [None if v is None else v.value for v in left["ts_event"].to_pandas()]
    rt = [None if pd.isna(v) else v.value + delay for v in right["ts_event"].to_pandas()]
    lk = left["symbol"].to_pylist() if by else [0] * left.num_rows
    rk = right["symbol"].to_pylist() if by else [0] * right.num_rows
    picks: list[int | None] = []
    for t, key in zip(lt, lk, strict=True):
        best = None
        for j, (k, rkey) in enumerate(zip(rt, rk, strict=True)):
            if t is None or k is None or key is None or rkey != key:
                continue
            if (k <= t if exact else k < t) and (tolerance is None or t - k <= tolerance):
                if best is None or k >= rt[best]:
                    best = j
        # a row that is stale by tolerance is not replaced by an older one: the latest
        # known decides, then tolerance applies to it
        if best is not None and tolerance is not None:
            latest = [
                j
                for j, (k, rkey) in enumerate(zip(rt, rk, strict=True))
                if k is not None and rkey == key and (k <= t if exact else k < t)
            ]
            newest = max(rt[j] for j in latest)
            if t - newest > tolerance:
                best = None
        picks.append(best)
    return picks


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force_and_never_looks_ahead(tmp_path, seed):
    rng = random.Random(seed)
    left = random_table(rng, rng.randrange(0, 40), ["A", "B", "C", None], "x")
    right = random_table(rng, rng.randrange(0, 40), ["A", "B", "D", None], "y")
    by = rng.choice(["symbol", None])
    delay = rng.choice([0, 0, 3]) * 1_000_000_000
    tolerance = rng.choice([None, 0, 5_000_000_000])
    exact = rng.random() < 0.7
    catalog = Catalog.open(tmp_path)
    got = catalog.join_asof(
        left,
        right,
        by=by,
        delay=pd.Timedelta(delay),
        tolerance=None if tolerance is None else pd.Timedelta(tolerance),
        allow_exact=exact,
    )
    picks = brute_force(left, right, by, delay, tolerance, exact)
    assert got.num_rows == left.num_rows
    assert got.select(left.column_names).equals(left)  # left's rows, in its order
    want_y = [None if j is None else right["y"][j].as_py() for j in picks]
    assert got["y"].to_pylist() == want_y
    for row, known in zip(left["ts_event"].to_pylist(), got["known_at"].to_pylist(), strict=True):
        if known is not None:
            assert known <= row if exact else known < row  # nothing from the future


def ingest_vix_and_bars(tmp_path, write_config, run_cli) -> Catalog:
    vix = tmp_path / "inputs/vix"
    vix.mkdir(parents=True)
    rows = [
        (date(2023, 12, 28), 12.0, 12.5, 11.9, 12.1),
        (date(2023, 12, 29), 12.2, 12.9, 12.0, 12.45),
        (date(2024, 1, 2), 13.0, 14.2, 12.9, 13.2),
        (date(2024, 1, 3), 13.5, 14.9, 13.1, 14.04),
        (date(2024, 1, 4), 14.0, 14.5, 13.8, 14.13),
    ]
    (vix / "VIX_History.csv").write_bytes(cboe_csv(rows))
    alpaca = tmp_path / "inputs/alpaca"
    alpaca.mkdir(parents=True)
    (alpaca / "bars.json.gz").write_bytes(
        encode_raw_bars({"SPY": synthetic_bars("SPY", 470.0, seed=1)})
    )
    config = write_config(
        """\
        data_dir: data
        sources:
          vix:
            enabled: true
            mode: offline
            jobs:
              - {name: vix_daily, mode: offline, path: inputs/vix/*_History.csv}
          alpaca:
            enabled: true
            mode: offline
            jobs:
              - {name: eq_1m, mode: offline, path: inputs/alpaca/*.json.gz,
                 timeframe: 1Min, feed: iex}
        """
    )
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    return Catalog.open(tmp_path / "data")


def test_the_vix_close_reaches_only_the_bars_after_16_15_new_york(tmp_path, write_config, run_cli):
    catalog = ingest_vix_and_bars(tmp_path, write_config, run_cli)
    bars = catalog.read("alpaca/eq_1m")
    edge = pd.Timestamp("2024-01-03T16:15", tz="America/New_York").tz_convert("UTC")
    probes = pa.table(
        {
            "timestamp": pa.array(
                [edge - pd.Timedelta(1, "ns"), edge, edge + pd.Timedelta("1h")], type=UTC_NS
            ),
            "symbol": ["SPY"] * 3,
        }
    )
    left = pa.concat_tables(
        [
            bars.select(["timestamp", "symbol"]),
            probes.cast(bars.select(["timestamp", "symbol"]).schema),
        ]
    )
    joined = catalog.join_asof(
        left, "vix/vix_daily", by=None, known_at="16:15 America/New_York", columns=["date", "close"]
    )
    closes = {row["date"]: row["close"] for row in catalog.read("vix/vix_daily").to_pylist()}
    for row in joined.to_pylist():
        stamp = pd.Timestamp(row["timestamp"])
        local = stamp.tz_convert("America/New_York")
        # the latest session whose 16:15 has passed: today's after 16:15, else the one before
        usable = [day for day in closes if pd.Timestamp(f"{day} 16:15", tz=local.tz) <= local]
        assert row["date"] == max(usable)
        assert row["close"] == closes[row["date"]]
        assert row["known_at"] == pd.Timestamp(f"{row['date']} 16:15", tz=local.tz)
    tail = joined.slice(bars.num_rows).to_pylist()
    assert [row["date"] for row in tail] == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 3)]
    first_day = joined.slice(0, 390)["date"].to_pylist()
    assert set(first_day) == {date(2023, 12, 29)}  # Jan 2's close is not known during Jan 2


def test_dates_need_a_time_of_day(tmp_path, write_config, run_cli):
    catalog = ingest_vix_and_bars(tmp_path, write_config, run_cli)
    with pytest.raises(CatalogError, match="known_at="):
        catalog.join_asof("alpaca/eq_1m", "vix/vix_daily", by=None)
    with pytest.raises(CatalogError, match="HH:MM Zone"):
        catalog.join_asof("alpaca/eq_1m", "vix/vix_daily", by=None, known_at="16:15")
    with pytest.raises(CatalogError, match="by='sector'"):
        catalog.join_asof("alpaca/eq_1m", "alpaca/eq_1m", by="sector")


def test_a_known_time_of_day_follows_daylight_saving():
    from multigate.backtest.asof_join import _at_clock

    days = pa.chunked_array([pa.array([date(2024, 1, 2), date(2024, 7, 2)])])
    got = _at_clock(days, "16:15 America/New_York")
    assert list(got) == [
        pd.Timestamp("2024-01-02T21:15Z").value,
        pd.Timestamp("2024-07-02T20:15Z").value,
    ]
    assert np.iinfo(np.int64).max not in got


def test_daily_bars_join_by_their_session_date(tmp_path, write_config, run_cli):
    """Yesterday's daily bar (known at the 16:00 New York close) onto today's minute bars."""
    catalog = ingest_vix_and_bars(tmp_path, write_config, run_cli)
    minute = catalog.read("alpaca/eq_1m")
    daily = catalog.bars("alpaca/eq_1m", "1d").select(["symbol", "session", "close"])
    joined = catalog.join_asof(
        minute,
        daily,
        known_at="16:00 America/New_York",
        right_on="session",
        columns=["session", "close"],
    )
    closes = dict(zip(daily["session"].to_pylist(), daily["close"].to_pylist(), strict=True))
    for row in joined.to_pylist():
        today = pd.Timestamp(row["timestamp"]).tz_convert("America/New_York").date()
        earlier = [day for day in closes if day < today]
        assert row["session"] == (max(earlier) if earlier else None)
        assert row["close_right"] == (closes[row["session"]] if earlier else None)
