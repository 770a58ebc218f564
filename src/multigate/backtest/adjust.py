"""Adjust prices for corporate actions on read; the stored rows stay as traded.

Every price of a row before an event's ex-date (at UTC date boundaries: before 00:00 UTC
of that date) is multiplied by the event's factor, cumulatively over all later events of
its symbol; share volumes are divided by the factors of splits only. ``"splits"`` applies
the split events, ``"all"`` every event (cash dividends too). Events come from a vendor's
corporate-action dataset as the table ``EVENTS`` describes (see the vendor packages).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Mode = Literal["splits", "all"]
MODES = ("splits", "all")
EVENTS = pa.schema(
    [
        ("symbol", pa.string()),
        ("ex_date", pa.date32()),
        ("event_id", pa.string()),
        ("event", pa.string()),
        ("factor", pa.float64()),
        ("split", pa.bool_()),
        ("cash", pa.float64()),
    ]
)
"""One row per event: the price factor for rows before ``ex_date``; ``split`` events also
scale volumes. A cash dividend may give ``cash`` (per share) instead of a factor: its
factor is then 1 - cash / the symbol's last close before the ex-date in the rows read."""
APPLIED_KEY = b"multigate.adjustments"
MODE_KEY = b"multigate.adjust"
PRICE_COLUMNS = re.compile(r"^(open|high|low|close|price|vwap|(bid|ask)_px_\d\d)$")
VOLUME_COLUMNS = re.compile(r"^(volume|size|(bid|ask)_sz_\d\d)$")
NS_PER_DAY = 86_400_000_000_000


def adjust(table: pa.Table, time_column: str, events: pa.Table, mode: str) -> pa.Table:
    """``table`` with its price (and, for splits, volume) columns adjusted by ``events``;
    its schema metadata lists the events applied (``applied_adjustments``)."""
    if mode not in MODES:
        raise ValueError(f"adjust='{mode}': use None, 'splits' or 'all'")
    if "symbol" not in table.column_names:
        raise ValueError("adjusting needs a symbol column")
    if "cash" not in events.column_names:
        events = events.append_column("cash", pa.nulls(events.num_rows, pa.float64()))
    events = events.select(EVENTS.names).cast(EVENTS)
    if mode == "splits":
        events = events.filter(pc.fill_null(events["split"], False))
    _check_factors(events)
    times = _row_ns(table[time_column])
    symbols = table["symbol"].combine_chunks()
    price = np.ones(table.num_rows)
    volume = np.ones(table.num_rows)
    applied: list[dict[str, Any]] = []
    by_symbol = _group(events)
    encoded = pc.dictionary_encode(symbols)
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False))
    for code, symbol in enumerate(encoded.dictionary.to_pylist()):
        found = by_symbol.get(symbol)
        if not found:
            continue
        rows = np.flatnonzero(codes == code)
        ex_ns, factors, splits, records = found
        _cash_factors(table, rows, times[rows], ex_ns, factors, records)
        after = np.searchsorted(ex_ns, times[rows], side="right")  # events still to come
        price[rows] = _suffix_products(factors)[after]
        volume[rows] = _suffix_products(np.where(splits, factors, 1.0))[after]
        earliest = int(times[rows].min())
        applied.extend(record for ns, record in zip(ex_ns, records, strict=True) if ns > earliest)
    result = table
    for index, name in enumerate(table.column_names):
        if PRICE_COLUMNS.match(name):
            values = pc.multiply(table[name].cast(pa.float64()), pa.array(price))
        elif VOLUME_COLUMNS.match(name):
            values = pc.divide(table[name].cast(pa.float64()), pa.array(volume))
        else:
            continue
        result = result.set_column(index, name, values)  # nulls stay null
    metadata = dict(table.schema.metadata or {})
    metadata[MODE_KEY] = mode.encode()
    metadata[APPLIED_KEY] = json.dumps(applied, default=str).encode()
    return result.replace_schema_metadata(metadata)


def applied_adjustments(table: pa.Table) -> list[dict[str, Any]] | None:
    """The events an adjusted read applied (symbol, ex_date, event_id, event, factor,
    split), or None when the table was not adjusted."""
    metadata = table.schema.metadata or {}
    if APPLIED_KEY not in metadata:
        return None
    found: list[dict[str, Any]] = json.loads(metadata[APPLIED_KEY])
    return found


def _cash_factors(
    table: pa.Table,
    rows: np.ndarray,
    times: np.ndarray,
    ex_ns: np.ndarray,
    factors: np.ndarray,
    records: list[dict[str, Any]],
) -> None:
    """Fill in the factor of each cash-only event from the last close before its ex-date
    (1: no row before it, so it changes nothing)."""
    pending = [i for i, record in enumerate(records) if record["factor"] is None]
    if not pending:
        return
    name = "close" if "close" in table.column_names else "price"
    if name not in table.column_names:
        raise ValueError("a cash dividend needs a close (or price) column to be applied")
    closes = table[name].cast(pa.float64()).to_numpy(zero_copy_only=False)[rows]
    for i in pending:
        earlier = np.flatnonzero(times < ex_ns[i])
        if not len(earlier):
            factors[i] = 1.0
            continue
        last = earlier[np.argmax(times[earlier])]  # a tie: the first of them, as read
        close, cash = float(closes[last]), float(records[i]["cash"])
        if not close > cash:
            raise ValueError(
                f"event {records[i]['event_id']} of {records[i]['symbol']}: a cash amount "
                f"{cash} is not below the previous close {close}"
            )
        factors[i] = records[i]["factor"] = 1.0 - cash / close


def _check_factors(events: pa.Table) -> None:
    factors = events["factor"].to_numpy(zero_copy_only=False)
    cash = events["cash"].to_numpy(zero_copy_only=False)
    given = ~np.isnan(factors)
    bad = (given & ~(factors > 0)) | (~given & ~(np.isfinite(cash) & (cash > 0)))
    if bad.any():
        row = events.slice(int(np.flatnonzero(bad)[0]), 1).to_pylist()[0]
        raise ValueError(
            f"event {row['event_id']} of {row['symbol']} ({row['ex_date']}) has factor "
            f"{row['factor']}: not a positive number"
        )


def _group(
    events: pa.Table,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]]:
    """Per symbol: ex-dates (ns, 00:00 UTC) ascending, factors, split flags, the events."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in events.to_pylist():
        if record["symbol"] is not None and record["ex_date"] is not None:
            grouped.setdefault(record["symbol"], []).append(record)
    out = {}
    for symbol, records in grouped.items():
        records.sort(key=lambda record: record["ex_date"])
        days = np.array([record["ex_date"].toordinal() for record in records], dtype=np.int64)
        ex_ns = (days - 719_163) * NS_PER_DAY  # 719163: date(1970, 1, 1).toordinal()
        factors = np.array(
            [np.nan if record["factor"] is None else record["factor"] for record in records],
            dtype=np.float64,
        )
        splits = np.array([bool(record["split"]) for record in records])
        out[symbol] = (ex_ns, factors, splits, records)
    return out


def _suffix_products(factors: np.ndarray) -> np.ndarray:
    """``out[i]``: the product of ``factors[i:]``; ``out[len]`` is 1."""
    return np.append(np.cumprod(factors[::-1])[::-1], 1.0)


def _row_ns(column: pa.ChunkedArray) -> np.ndarray:
    """Each row's time as int64 ns UTC (a date: its 00:00 UTC)."""
    if pa.types.is_date(column.type):
        column = column.cast(pa.date32()).cast(pa.timestamp("s"))
    cast = column.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
    return np.asarray(cast.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
