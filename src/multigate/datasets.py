"""What kind of table an ingested output is, read off its Arrow schema (vendor-free).

The catalog and the quality checks both need a dataset's time column and its shape (bars,
book tops, trades, daily index history); they read it from the columns a file has, so no
reader needs to know which vendor wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

TIME_COLUMNS = ("ts_event", "timestamp", "date")
"""Candidate time columns, in the order they are preferred."""


class TableKind(StrEnum):
    BARS = "bars"  # open/high/low/close (+ volume) per interval
    DAILY = "daily"  # open/high/low/close per calendar date (VIX)
    BOOK = "book"  # best bid/ask levels (mbp-1, bbo, tbbo, cmbp-1, mbp-10)
    EVENTS = "events"  # trades, mbo, definitions, statistics, ...


@dataclass(frozen=True)
class TableProfile:
    time_column: str
    kind: TableKind
    has_symbol: bool


def profile_of(schema: pa.Schema) -> TableProfile:
    """The time column and kind of a table with ``schema``; ValueError when it has none."""
    names = set(schema.names)
    time_column = next((name for name in TIME_COLUMNS if name in names), None)
    if time_column is None:
        raise ValueError(f"no time column (one of {', '.join(TIME_COLUMNS)}) in {schema.names}")
    ohlc = {"open", "high", "low", "close"} <= names
    if ohlc and time_column == "date":
        kind = TableKind.DAILY
    elif ohlc:
        kind = TableKind.BARS
    elif {"bid_px_00", "ask_px_00"} <= names:
        kind = TableKind.BOOK
    else:
        kind = TableKind.EVENTS
    return TableProfile(time_column=time_column, kind=kind, has_symbol="symbol" in names)
