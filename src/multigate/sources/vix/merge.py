"""Merge the files that hold one symbol (an old archive and a recent download, or CBOE and
FRED for the same index) into one row per date.

Two rows of the same date agree when every value both give is equal; a value only one of
them gives (FRED has a close only, a FRED holiday none) fills the other's gap. A date whose
values differ is an error naming both files and the date: nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from multigate.errors import DataError
from multigate.sources.vix.csv_format import OUTPUT_SCHEMA

VALUE_COLUMNS = ("open", "high", "low", "close")
_PART = "__part"


@dataclass(frozen=True)
class Merged:
    """One symbol's rows from all its files, and how many dates more than one file gave."""

    table: pa.Table
    shared_dates: int


def merge_by_date(symbol: str, parts: Sequence[tuple[str, pa.Table]]) -> Merged:
    """Merge ``(origin, table)`` parts of ``symbol`` (each sorted, one row per date)."""
    if len(parts) == 1:
        return Merged(parts[0][1], 0)
    combined = pa.concat_tables(
        table.append_column(_PART, pa.array([index] * table.num_rows, pa.int32()))
        for index, (_, table) in enumerate(parts)
    )
    aggregates = [(name, kind) for name in VALUE_COLUMNS for kind in ("min", "max")]
    by_date = combined.group_by("date").aggregate([*aggregates, (_PART, "count")])
    by_date = by_date.sort_by("date")
    differ = [
        pc.fill_null(pc.not_equal(by_date[f"{name}_min"], by_date[f"{name}_max"]), False)
        for name in VALUE_COLUMNS
    ]
    clash = differ[0]
    for mask in differ[1:]:
        clash = pc.or_(clash, mask)
    if pc.any(clash).as_py():
        first = by_date.filter(clash)["date"][0]
        _raise_conflict(symbol, parts, combined.filter(pc.equal(combined["date"], first)))
    table = pa.table(
        {
            "date": by_date["date"],
            "symbol": pa.array([symbol] * by_date.num_rows, pa.string()),
            **{name: by_date[f"{name}_min"] for name in VALUE_COLUMNS},
        },
        schema=OUTPUT_SCHEMA,
    )
    shared = int(pc.sum(pc.greater(by_date[f"{_PART}_count"], 1)).as_py() or 0)
    return Merged(table, shared)


def _raise_conflict(symbol: str, parts: Sequence[tuple[str, pa.Table]], rows: pa.Table) -> None:
    """Name the two files and the values that disagree on the date of ``rows``."""
    records = rows.to_pylist()
    for name in VALUE_COLUMNS:
        given = [(record[name], record[_PART]) for record in records if record[name] is not None]
        for value, part in given[1:]:
            if value != given[0][0]:
                day = records[0]["date"].isoformat()
                raise DataError(
                    f"{parts[given[0][1]][0]} and {parts[part][0]} differ for {symbol} on "
                    f"{day} ({name} {given[0][0]} vs {value}); correct or remove one of them"
                )
