"""Ingest-time quality assessment of one Parquet output, streamed one batch at a time.

``assess_parquet`` reads only the columns it needs, batch by batch (memory is bounded by one
batch, whatever the file size), and returns a JSON-able dict for the output's sidecar:

- ``sessions``: per symbol, per session day: rows, first/last time, rows inside the
  calendar's open-close hours, rows without a close (one string per symbol, see
  :mod:`multigate.quality.session_format`). The session of a time is the calendar session
  whose hours hold it, else its exchange-local date (pre/post market, closed days); the UTC
  date when there is no calendar; the date itself for daily tables.
- ``checks``: ``{name: {"count": n, "examples": [...]}}`` for the row checks in
  :mod:`multigate.quality.checks`.

Rows are never changed or dropped. Vendor-free: the table's shape comes from
:func:`multigate.datasets.profile_of`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from multigate.datasets import TableKind, TableProfile, profile_of
from multigate.quality.calendars import Sessions, sessions_between
from multigate.quality.checks import CheckCounter
from multigate.quality.session_format import SESSION_FORMAT, decode_sessions, encode_sessions

QUALITY_VERSION = 1
DEFAULT_EXTREME_MOVE = 0.25
"""A one-step return above 25% (either way) is flagged as an extreme move."""
BATCH_ROWS = 1 << 18
PRE_OPEN_NS = 4 * 3600 * 10**9
"""Data this close before a session's open, on a day the exchange is closed, belongs to it."""
NS_PER_DAY = 86_400 * 10**9
_UNDEF_FIXED_PRICE = np.iinfo(np.int64).max
_DAY_BITS = 22  # session keys pack (symbol id, day + _DAY_OFFSET) into one int64
_DAY_OFFSET = 1 << 21  # days since 1970, shifted so that any year after 4000 BC is >= 0

ROW_CHECKS = (
    "duplicate_timestamp",
    "non_monotonic",
    "ohlc_inconsistent",
    "non_positive_price",
    "crossed_book",
    "extreme_move",
    "close_only",
    "missing_value",
)


@dataclass
class _SymbolState:
    """What the previous batch left per symbol (indexed by symbol id)."""

    last_order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    last_time: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    has_last: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    last_price: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))

    def grow(self, size: int) -> None:
        extra = size - len(self.has_last)
        if extra > 0:
            self.last_order = np.concatenate([self.last_order, np.zeros(extra, np.int64)])
            self.last_time = np.concatenate([self.last_time, np.zeros(extra, np.int64)])
            self.has_last = np.concatenate([self.has_last, np.zeros(extra, bool)])
            self.last_price = np.concatenate([self.last_price, np.full(extra, np.nan)])


@dataclass
class _Assessment:
    profile: TableProfile
    calendar: str | None
    extreme_move: float
    symbols: dict[str, int] = field(default_factory=dict)
    streams: dict[int, int] = field(default_factory=dict)
    state: _SymbolState = field(default_factory=_SymbolState)
    checks: dict[str, CheckCounter] = field(default_factory=dict)
    sessions: dict[int, list[int]] = field(default_factory=dict)
    min_step: int | None = None
    rows: int = 0
    columns: frozenset[str] = frozenset()

    def counter(self, name: str) -> CheckCounter:
        return self.checks.setdefault(name, CheckCounter())


def assess_parquet(
    path: Path,
    *,
    calendar: str | None = None,
    extreme_move: float = DEFAULT_EXTREME_MOVE,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, Any]:
    """Assess the Parquet file at ``path`` (see the module doc); ``calendar`` is an
    exchange_calendars name or None (UTC days)."""
    parquet = pq.ParquetFile(path)
    schema = parquet.schema_arrow
    profile = profile_of(schema)
    state = _Assessment(profile=profile, calendar=calendar, extreme_move=extreme_move)
    state.columns = frozenset(schema.names)
    for name in _checks_for(profile, schema):
        state.counter(name)
    columns = _needed_columns(profile, schema)
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
        if batch.num_rows:
            _assess_batch(state, batch, schema)
    return _result(state)


def _checks_for(profile: TableProfile, schema: pa.Schema) -> list[str]:
    names = ["non_monotonic", "missing_time"]
    if profile.kind in (TableKind.BARS, TableKind.DAILY):
        names += ["duplicate_timestamp", "ohlc_inconsistent", "missing_value"]
    if profile.kind == TableKind.DAILY:
        names.append("close_only")
    if profile.kind == TableKind.BOOK:
        names.append("crossed_book")
    if _price_columns(profile, schema):
        names.append("non_positive_price")
    if _move_price_columns(profile, schema):
        names.append("extreme_move")
    return names


def _is_market_data(profile: TableProfile, names: frozenset[str]) -> bool:
    """Bars, book tops, trades and orders follow the trading sessions; reference records
    (definitions, statistics, status, imbalance) need not, so sessions do not judge them."""
    if profile.kind != TableKind.EVENTS:
        return True
    return {"price", "action"} <= names and "stat_type" not in names


def _price_columns(profile: TableProfile, schema: pa.Schema) -> list[str]:
    names = set(schema.names)
    if "stat_type" in names:  # statistics: spreads and settlement values may be <= 0
        return []
    wanted = ["open", "high", "low", "close", "price", "bid_px_00", "ask_px_00"]
    return [name for name in wanted if name in names]


def _move_price_columns(profile: TableProfile, schema: pa.Schema) -> list[str]:
    names = set(schema.names)
    if profile.kind in (TableKind.BARS, TableKind.DAILY):
        return ["close"]
    if profile.kind == TableKind.BOOK:
        return ["bid_px_00", "ask_px_00"]
    if "price" in names and "stat_type" not in names and "action" in names:
        return ["price"]  # trades / mbo
    return []


def _needed_columns(profile: TableProfile, schema: pa.Schema) -> list[str]:
    wanted = [profile.time_column, "ts_recv", "symbol", "publisher_id"]
    wanted += _price_columns(profile, schema) + _move_price_columns(profile, schema)
    if profile.kind in (TableKind.BARS, TableKind.DAILY):
        wanted += ["open", "high", "low", "close"]
    if profile.kind == TableKind.BOOK:
        wanted += ["bid_px_00", "ask_px_00"]
    return [name for name in dict.fromkeys(wanted) if name in schema.names]


def _as_ns(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A time column as int64 ns since the epoch (dates: their midnight)."""
    if pa.types.is_date(column.type):
        days = column.cast(pa.date32()).cast(pa.int32())
        return np.asarray(days.to_numpy(zero_copy_only=False), dtype=np.int64) * NS_PER_DAY
    ns = column.cast(pa.timestamp("ns", tz=getattr(column.type, "tz", None)))
    return np.asarray(ns.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False))


def _floats(batch: pa.RecordBatch, name: str) -> np.ndarray:
    column = batch.column(name)
    if pa.types.is_integer(column.type):  # price_type: fixed (1e-9 units; max = undefined)
        raw = np.asarray(column.fill_null(_UNDEF_FIXED_PRICE).to_numpy(zero_copy_only=False))
        values = raw.astype(np.float64)
        values[raw == _UNDEF_FIXED_PRICE] = np.nan
        return values
    return np.asarray(column.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False))


def _symbol_ids(state: _Assessment, batch: pa.RecordBatch) -> np.ndarray:
    if "symbol" not in batch.schema.names:
        state.symbols.setdefault("", 0)
        return np.zeros(batch.num_rows, np.int64)
    encoded = pc.dictionary_encode(batch.column("symbol").cast(pa.string()))
    local = [state.symbols.setdefault(text or "", len(state.symbols))
             for text in encoded.dictionary.to_pylist()]  # fmt: skip
    lookup = np.asarray(local, dtype=np.int64)
    indices = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False))
    if (indices < 0).any():
        null_id = state.symbols.setdefault("", len(state.symbols))
        lookup = np.append(lookup, null_id)
        indices = np.where(indices < 0, len(lookup) - 1, indices)
    return lookup[indices]


def _timed_rows(state: _Assessment, batch: pa.RecordBatch) -> pa.RecordBatch:
    """The rows that have a time: the time column, else ``ts_recv`` (Databento bbo/cbbo
    intervals without an event); the others are counted as ``missing_time``."""
    column = batch.column(state.profile.time_column)
    valid = column.is_valid()
    if "ts_recv" in batch.schema.names:
        valid = pc.or_(valid, batch.column("ts_recv").is_valid())
    missing = batch.num_rows - int(pc.sum(valid.cast(pa.int64())).as_py() or 0)
    if not missing:
        return batch
    symbols = _symbol_ids(state, batch)
    names = _symbol_names(state)
    flags = ~np.asarray(valid.to_numpy(zero_copy_only=False), bool)
    state.counter("missing_time").add(
        missing,
        [
            f"{names[symbols[i]]} row {state.rows + int(i)}".strip()
            for i in np.flatnonzero(flags)[:5]
        ],
    )
    return batch.filter(valid)


def _stream_ids(state: _Assessment, batch: pa.RecordBatch, symbols: np.ndarray) -> np.ndarray:
    """One id per (symbol, publisher): a venue's records form their own sequence (OPRA bars
    of several exchanges share a timestamp)."""
    if "publisher_id" not in batch.schema.names:
        keys = symbols
    else:
        publisher = batch.column("publisher_id").fill_null(0).to_numpy(zero_copy_only=False)
        keys = symbols * 65_536 + np.asarray(publisher, np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    dense = np.asarray(
        [state.streams.setdefault(int(key), len(state.streams)) for key in unique], np.int64
    )
    return dense[inverse.reshape(-1)]


def _assess_batch(state: _Assessment, batch: pa.RecordBatch, schema: pa.Schema) -> None:
    profile = state.profile
    count_all = batch.num_rows
    batch = _timed_rows(state, batch)
    times = _as_ns(batch.column(profile.time_column))
    if "ts_recv" in batch.schema.names:
        received = batch.column("ts_recv")
        order_times = _as_ns(received)
        no_event = ~np.asarray(batch.column(profile.time_column).is_valid(), bool)
        times = np.where(no_event, order_times, times)
        order_times = np.where(np.asarray(received.is_valid(), bool), order_times, times)
    else:
        order_times = times
    symbols = _symbol_ids(state, batch)
    streams = _stream_ids(state, batch, symbols)
    state.state.grow(len(state.streams))
    names = _symbol_names(state)
    state.rows += count_all

    # Group each stream's rows (a symbol's, per venue), keeping their stored order.
    order = np.argsort(streams, kind="stable")
    sym = streams[order]
    starts = np.r_[True, sym[1:] != sym[:-1]]
    ends = np.r_[sym[1:] != sym[:-1], True]

    def previous(values: np.ndarray, carried: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prev = np.r_[values[:1], values[:-1]].copy()
        known = ~starts.copy()
        prev[starts] = carried[sym[starts]]
        known[starts] = state.state.has_last[sym[starts]]
        return prev, known

    ordered = order_times[order]
    prev_order, known = previous(ordered, state.state.last_order)
    bad = known & (ordered < prev_order)
    _count(state, "non_monotonic", bad, order, names, symbols, order_times)

    kinds_with_bars = (TableKind.BARS, TableKind.DAILY)
    timed = times[order]
    prev_time, known_time = previous(timed, state.state.last_time)
    if profile.kind in kinds_with_bars:
        dup = known_time & (timed == prev_time)
        _count(state, "duplicate_timestamp", dup, order, names, symbols, times)
        steps = (timed - prev_time)[known_time & (timed > prev_time)]
        if steps.size:
            step = int(steps.min())
            state.min_step = step if state.min_step is None else min(state.min_step, step)

    last_rows = order[ends]
    state.state.last_order[sym[ends]] = order_times[last_rows]
    state.state.last_time[sym[ends]] = times[last_rows]
    state.state.has_last[sym[ends]] = True

    _row_checks(state, batch, schema, order, sym, starts, ends, names, symbols, times)
    _add_sessions(state, batch, symbols, times)


def _row_checks(
    state: _Assessment,
    batch: pa.RecordBatch,
    schema: pa.Schema,
    order: np.ndarray,
    sym: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    names: list[str],
    symbols: np.ndarray,
    times: np.ndarray,
) -> None:
    profile = state.profile
    cols = batch.schema.names
    if profile.kind in (TableKind.BARS, TableKind.DAILY):
        o, h, lo, c = (_floats(batch, n) for n in ("open", "high", "low", "close"))
        with np.errstate(invalid="ignore"):
            bad = (h < lo) | (o < lo) | (o > h) | (c < lo) | (c > h)
        _count(state, "ohlc_inconsistent", bad, None, names, symbols, times)
        _count(state, "missing_value", np.isnan(c), None, names, symbols, times)
        if profile.kind == TableKind.DAILY:
            same = (o == c) & (h == c) & (lo == c)
            missing = np.isnan(o) & np.isnan(h) & np.isnan(lo)
            only = ~np.isnan(c) & (same | missing)
            _count(state, "close_only", only, None, names, symbols, times)
    if profile.kind == TableKind.BOOK:
        bid, ask = _floats(batch, "bid_px_00"), _floats(batch, "ask_px_00")
        with np.errstate(invalid="ignore"):
            crossed = bid > ask
        _count(state, "crossed_book", crossed, None, names, symbols, times)
    price_cols = [n for n in _price_columns(profile, schema) if n in cols]
    if price_cols:
        nonpos = np.zeros(batch.num_rows, bool)
        for name in price_cols:
            with np.errstate(invalid="ignore"):
                nonpos |= _floats(batch, name) <= 0
        _count(state, "non_positive_price", nonpos, None, names, symbols, times)
    move_cols = [n for n in _move_price_columns(profile, schema) if n in cols]
    if move_cols:
        prices = sum((_floats(batch, n) for n in move_cols), np.zeros(batch.num_rows)) / len(
            move_cols
        )
        _extreme_moves(state, prices, order, sym, names, symbols, times)


def _extreme_moves(
    state: _Assessment,
    prices: np.ndarray,
    order: np.ndarray,
    sym: np.ndarray,
    names: list[str],
    symbols: np.ndarray,
    times: np.ndarray,
) -> None:
    """Per symbol, each defined positive price against the previous one (across batches)."""
    ordered = prices[order]
    valid = ~np.isnan(ordered) & (ordered > 0)
    rows, vsym, vals = order[valid], sym[valid], ordered[valid]
    if not len(vals):
        return
    first = np.r_[True, vsym[1:] != vsym[:-1]]
    last = np.r_[vsym[1:] != vsym[:-1], True]
    prev = np.r_[vals[:1], vals[:-1]].copy()
    prev[first] = state.state.last_price[vsym[first]]
    with np.errstate(invalid="ignore", divide="ignore"):
        moves = np.abs(vals / prev - 1.0) > state.extreme_move
    moves &= ~np.isnan(prev)
    state.state.last_price[vsym[last]] = vals[last]
    flagged = np.zeros(len(prices), bool)
    flagged[rows[moves]] = True
    _count(state, "extreme_move", flagged, None, names, symbols, times)


def _count(
    state: _Assessment,
    name: str,
    mask: np.ndarray,
    order: np.ndarray | None,
    names: list[str],
    symbols: np.ndarray,
    times: np.ndarray,
) -> None:
    """Add the rows of ``mask`` (in ``order`` when given, else batch order) to a check."""
    rows = order[mask] if order is not None else np.flatnonzero(mask)
    if not len(rows):
        state.counter(name)
        return
    counter = state.counter(name)
    examples = [f"{names[symbols[i]]} {_iso(int(times[i]))}".strip() for i in np.sort(rows)[:5]]
    counter.add(len(rows), examples)


def _symbol_names(state: _Assessment) -> list[str]:
    names = [""] * len(state.symbols)
    for text, index in state.symbols.items():
        names[index] = text
    return names


def _iso(ns: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
    if ns % NS_PER_DAY == 0:
        return moment.date().isoformat()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ns % 10**9
    return f"{text}.{frac:09d}Z" if frac else f"{text}Z"


def session_labels(
    times: np.ndarray, calendar: str | None, daily: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each time's session label (days since 1970) and whether it is inside the session's
    open-close hours (see the module doc)."""
    days = np.floor_divide(times, NS_PER_DAY)
    stamped_daily = len(times) > 0 and not np.any(times % NS_PER_DAY)  # ohlcv-1d: 00:00 UTC
    if daily or calendar is None or stamped_daily:
        return days, np.ones(len(times), bool)
    first = date(1970, 1, 1) + timedelta(days=int(days.min()) - 2)
    last = date(1970, 1, 1) + timedelta(days=int(days.max()) + 2)
    sessions = sessions_between(calendar, first, last)
    return _labels_in(sessions, times)


def _labels_in(sessions: Sessions, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    index = np.searchsorted(sessions.closes, times, side="right")
    clipped = np.minimum(index, max(len(sessions.closes) - 1, 0))
    inside = (index < len(sessions.closes)) & (
        times >= sessions.opens[clipped] if len(sessions.opens) else False
    )
    labels = np.empty(len(times), np.int64)
    if len(sessions.labels):
        labels[inside] = sessions.labels[clipped[inside]]
    outside = ~inside
    if outside.any():
        local = (
            pd.DatetimeIndex(times[outside].view("datetime64[ns]"))
            .tz_localize("UTC")
            .tz_convert(sessions.tz)
            .tz_localize(None)
        )
        labels[outside] = np.floor_divide(local.asi8, NS_PER_DAY)
        # pre-open activity on a closed day (Globex on Sunday afternoon) joins the session
        # that opens next, when that is at most PRE_OPEN away
        soon = outside & (index < len(sessions.opens))
        soon &= sessions.opens[clipped] - times <= PRE_OPEN_NS
        soon &= ~np.isin(labels, sessions.labels)
        labels[soon] = sessions.labels[clipped[soon]]
    return labels, inside


def _add_sessions(
    state: _Assessment, batch: pa.RecordBatch, symbols: np.ndarray, times: np.ndarray
) -> None:
    daily = state.profile.kind == TableKind.DAILY
    labels, inside = session_labels(times, state.calendar, daily)
    if state.profile.kind in (TableKind.BARS, TableKind.DAILY):
        empty = np.isnan(_floats(batch, "close"))
    else:
        empty = np.zeros(batch.num_rows, bool)
    keys = (symbols << _DAY_BITS) | (labels + _DAY_OFFSET)
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    counts = np.diff(np.r_[starts, len(k)])
    t = times[order]
    firsts = np.minimum.reduceat(t, starts)
    lasts = np.maximum.reduceat(t, starts)
    in_hours = np.add.reduceat(inside[order].astype(np.int64), starts)
    empties = np.add.reduceat(empty[order].astype(np.int64), starts)
    for i, start in enumerate(starts):
        packed = int(k[start])
        entry = state.sessions.get(packed)
        if entry is None:
            state.sessions[packed] = [
                int(counts[i]),
                int(firsts[i]),
                int(lasts[i]),
                int(in_hours[i]),
                int(empties[i]),
            ]
        else:
            entry[0] += int(counts[i])
            entry[1] = min(entry[1], int(firsts[i]))
            entry[2] = max(entry[2], int(lasts[i]))
            entry[3] += int(in_hours[i])
            entry[4] += int(empties[i])


def _result(state: _Assessment) -> dict[str, Any]:
    names = _symbol_names(state)
    by_symbol: dict[str, dict[int, list[int]]] = {}
    mask = (1 << _DAY_BITS) - 1
    for packed, entry in state.sessions.items():
        symbol, label = names[packed >> _DAY_BITS], (packed & mask) - _DAY_OFFSET
        by_symbol.setdefault(symbol, {})[label] = entry
    interval = state.min_step if state.profile.kind == TableKind.BARS else None
    return {
        "version": QUALITY_VERSION,
        "kind": str(state.profile.kind),
        "time_column": state.profile.time_column,
        "calendar": state.calendar,
        "interval_ns": interval,
        "market_data": _is_market_data(state.profile, state.columns),
        "rows": state.rows,
        "checks": {name: state.checks[name].to_json() for name in sorted(state.checks)},
        "session_format": SESSION_FORMAT,
        "sessions": {symbol: encode_sessions(by_symbol[symbol]) for symbol in sorted(by_symbol)},
    }


def iter_session_entries(quality: Mapping[str, Any]) -> Iterator[tuple[str, str, list[int]]]:
    """``(symbol, session day, [rows, first_ns, last_ns, in_hours, empty])`` of a sidecar's
    ``quality`` field (times in ns since the epoch, UTC; first/last to the second)."""
    for symbol, text in (quality.get("sessions") or {}).items():
        for day, _label, entry in decode_sessions(str(text)):
            yield symbol, day, entry
