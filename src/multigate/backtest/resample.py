"""Resample bars or trades to coarser bars: open/high/low/close are first/max/min/last,
volume is summed, each bar is labelled by its interval's start and empty intervals are
dropped (Databento's convention, pandas' ``resample(label="left", closed="left")``).

Intervals that divide a day are counted from midnight UTC; daily bars (``"1d"``) follow
an exchange calendar's sessions (a CME Globex day opens 17:00 Chicago time the evening
before), or UTC days without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NS_PER_DAY = 86_400_000_000_000
DAILY = "1d"
UTC_NS = pa.timestamp("ns", tz="UTC")
OHLC = ("open", "high", "low", "close")
SESSION_COLUMN = "session"


def interval_ns(every: str) -> int | None:
    """``every`` (``"30s"``, ``"5min"``, ``"1h"``, ``"1d"``) in nanoseconds; None for daily
    bars (sessions). ValueError for anything else, or an interval that does not divide a day
    (its bars would start at different times each day)."""
    import pandas as pd

    text = every.strip().lower()
    if text in ("1d", "d", "1day", "day"):
        return None
    try:
        step = 0 if text.endswith(("d", "day", "days")) else int(pd.Timedelta(text).value)
    except ValueError:
        step = 0
    if step <= 0 or NS_PER_DAY % step != 0:
        raise ValueError(
            f"every='{every}': give an interval that divides a day (e.g. 1s, 1min, 5min, "
            "15min, 1h, 4h) or '1d' for daily bars by exchange session"
        )
    return step


def columns_needed(names: Sequence[str], time_column: str) -> list[str]:
    """The columns of a bar or trade table that resampling reads."""
    have = set(names)
    if set(OHLC) <= have:
        wanted = [*OHLC, "volume", "trade_count", "vwap"]
    elif "price" in have:
        wanted = ["price", "size"]
    else:
        raise ValueError(
            "resampling needs bars (open, high, low, close) or trades (price, size); "
            f"found {', '.join(names)}"
        )
    keys = [time_column, *(["symbol"] if "symbol" in have else [])]
    return keys + [name for name in wanted if name in have]


def resample(table: pa.Table, time_column: str, every_ns: int) -> pa.Table:
    """Bars of ``every_ns`` from the rows of ``table`` (bars or trades), per symbol."""
    ts = _times(table, time_column)
    return _aggregate(table, time_column, ts, ts - ts % every_ns, None)


def daily(table: pa.Table, time_column: str, calendar: str | None) -> tuple[pa.Table, int]:
    """Daily bars per session of ``calendar`` (None: UTC days), labelled by the session's
    open with its date in ``session``; rows outside every session (before or after hours,
    the CME maintenance hour) are left out. Returns the bars and how many rows were left out."""
    ts = _times(table, time_column)
    inside, opens, labels = assign_sessions(ts, calendar)
    kept = table if inside.all() else table.filter(pa.array(inside))
    bars = _aggregate(kept, time_column, ts[inside], opens[inside], labels[inside])
    return bars, int(len(ts) - int(inside.sum()))


def session_of(table: pa.Table, time_column: str, calendar: str | None) -> pa.Array:
    """Each row's session date (null outside every session)."""
    inside, _, labels = assign_sessions(_times(table, time_column), calendar)
    days = pa.array(labels.astype(np.int32), type=pa.int32(), mask=~inside)
    return days.cast(pa.date32())


def assign_sessions(
    ts: np.ndarray, calendar: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each time (ns UTC): whether it is inside a session of ``calendar`` (None: UTC
    days, always), and that session's open (ns) and label (days since 1970-01-01)."""
    if calendar is None or not len(ts):
        starts = ts - ts % NS_PER_DAY
        return np.ones(len(ts), dtype=bool), starts, starts // NS_PER_DAY
    from multigate.quality.calendars import sessions_between

    first = _day(int(ts.min())) - timedelta(days=1)
    last = _day(int(ts.max())) + timedelta(days=2)
    sessions = sessions_between(calendar, first, last)
    if not len(sessions.opens):
        empty = np.zeros(len(ts), dtype=np.int64)
        return np.zeros(len(ts), dtype=bool), empty, empty
    index = np.searchsorted(sessions.opens, ts, side="right") - 1
    clipped = np.clip(index, 0, None)
    inside = (index >= 0) & (ts < sessions.closes[clipped])
    return inside, sessions.opens[clipped], sessions.labels[clipped]


def _day(ns: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ns // NS_PER_DAY)


def _times(table: pa.Table, time_column: str) -> np.ndarray:
    column = table[time_column]
    if not pa.types.is_timestamp(column.type):
        raise ValueError(f"resampling needs timestamps; {time_column} is {column.type}")
    cast = pc.cast(column, pa.timestamp("ns", tz=column.type.tz))
    return np.asarray(cast.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _aggregate(
    table: pa.Table,
    time_column: str,
    ts: np.ndarray,
    starts: np.ndarray,
    sessions: np.ndarray | None,
) -> pa.Table:
    """One row per (symbol, interval start) present: first/max/min/last of the prices,
    sums of the volumes, sorted by start then symbol (as the catalog reads)."""
    names = set(table.column_names)
    if "symbol" in names:
        codes_array = pc.dictionary_encode(table["symbol"]).combine_chunks()
        codes = np.asarray(codes_array.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        dictionary = codes_array.dictionary
    else:
        codes, dictionary = np.zeros(len(ts), dtype=np.int64), None
    order = np.lexsort((ts, starts, codes))  # stable: ties keep the order read
    key_codes, key_starts = codes[order], starts[order]
    change = np.ones(len(order), dtype=bool)
    if len(order):
        change[1:] = (key_codes[1:] != key_codes[:-1]) | (key_starts[1:] != key_starts[:-1])
    first = np.flatnonzero(change)
    last = np.append(first[1:], len(order)) - 1
    if set(OHLC) <= names:
        o, h, lo, c = (_floats(table, name)[order] for name in OHLC)
        volume_name = "volume"
    else:
        o = h = lo = c = _floats(table, "price")[order]
        volume_name = "size"
    columns: dict[str, pa.Array] = {
        time_column: pa.array(key_starts[first], type=pa.int64()).cast(UTC_NS)
    }
    if dictionary is not None:
        columns["symbol"] = dictionary.take(pa.array(key_codes[first]))
    if sessions is not None:
        days = pa.array(sessions[order][first].astype(np.int32), type=pa.int32())
        columns[SESSION_COLUMN] = days.cast(pa.date32())
    has_rows = len(first) > 0
    columns["open"] = pa.array(o[first])
    columns["high"] = pa.array(np.fmax.reduceat(h, first) if has_rows else h[:0])
    columns["low"] = pa.array(np.fmin.reduceat(lo, first) if has_rows else lo[:0])
    columns["close"] = pa.array(c[last])
    volume = _sums(table, volume_name, order, first)
    if volume is not None:
        columns["volume"] = volume
    if "trade_count" in names:
        counts = _sums(table, "trade_count", order, first)
        assert counts is not None
        columns["trade_count"] = counts
    if "vwap" in names and volume is not None:
        weights = _floats(table, volume_name)[order]
        notional = _floats(table, "vwap")[order] * weights
        total = np.add.reduceat(weights, first) if has_rows else weights[:0]
        summed = np.add.reduceat(notional, first) if has_rows else notional[:0]
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["vwap"] = pa.array(np.where(total > 0, summed / total, np.nan))
    bars = pa.table(columns)
    keys = [(time_column, "ascending")] + ([("symbol", "ascending")] if dictionary else [])
    return bars.take(pc.sort_indices(bars, sort_keys=keys))


def _floats(table: pa.Table, name: str) -> np.ndarray:
    column = table[name].cast(pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _sums(table: pa.Table, name: str, order: np.ndarray, first: np.ndarray) -> pa.Array | None:
    """Sums per bar, in the column's own kind (integers stay exact, widened to 64 bits)."""
    if name not in table.column_names:
        return None
    column = table[name].combine_chunks()
    if pa.types.is_integer(column.type):
        kind = np.uint64 if pa.types.is_unsigned_integer(column.type) else np.int64
        values = np.asarray(column.fill_null(0).to_numpy(zero_copy_only=False), dtype=kind)
    else:
        values = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    ordered = values[order]
    return pa.array(np.add.reduceat(ordered, first) if len(first) else ordered[:0])
