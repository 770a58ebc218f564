"""Merge the files that hold one symbol (an old archive and a recent download, or CBOE and
FRED for the same index) into one row per date.

Two rows of the same date agree when every value both give is equal; a value only one of
them gives (FRED has a close only, a FRED holiday none) fills the other's gap. A date whose
values differ is an error naming both files and the date: nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from multigate.errors import DataError
from multigate.sources.vix.csv_format import OUTPUT_SCHEMA

VALUE_COLUMNS = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Merged:
    """One symbol's rows from all its files, and how many dates more than one file gave."""

    table: pa.Table
    shared_dates: int


def merge_by_date(symbol: str, parts: Sequence[tuple[str, pa.Table]]) -> Merged:
    """Merge ``(origin, table)`` parts of ``symbol`` (each sorted, one row per date)."""
    if len(parts) == 1:
        return Merged(parts[0][1], 0)
    values: dict[date, list[float | None]] = {}
    givers: dict[date, list[str | None]] = {}  # which file gave each value (for errors)
    shared = 0
    for origin, table in parts:
        columns = [table[name].to_pylist() for name in VALUE_COLUMNS]
        for index, day in enumerate(table["date"].to_pylist()):
            row = [column[index] for column in columns]
            kept = values.get(day)
            if kept is None:
                values[day] = row
                givers[day] = [origin if value is not None else None for value in row]
                continue
            shared += 1
            for position, (old, new) in enumerate(zip(kept, row, strict=True)):
                if new is None:
                    continue
                if old is None:
                    kept[position], givers[day][position] = new, origin
                elif old != new:
                    raise DataError(
                        f"{givers[day][position]} and {origin} differ for {symbol} on "
                        f"{day.isoformat()} ({VALUE_COLUMNS[position]} {old} vs {new}); "
                        "correct or remove one of them"
                    )
    days = sorted(values)
    table = pa.table(
        {
            "date": pa.array(days, pa.date32()),
            "symbol": pa.array([symbol] * len(days), pa.string()),
            **{
                name: pa.array([values[day][position] for day in days], pa.float64())
                for position, name in enumerate(VALUE_COLUMNS)
            },
        },
        schema=OUTPUT_SCHEMA,
    )
    return Merged(table, shared)
