"""Data in the terminal: rows as a table that fits the screen, head and tail of a stream,
and per-column statistics from Parquet footers (no row is read for them)."""

from __future__ import annotations

import shutil
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq


def screen_width() -> int:
    """The terminal's width (``COLUMNS`` wins; 80 when piped and unset)."""
    return shutil.get_terminal_size((80, 24)).columns


def print_table(rows: Sequence[Sequence[str]], out: TextIO, width: int | None = None) -> None:
    """Left-aligned columns two spaces apart; the last column is cut to ``width``."""
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        if width is not None and len(line) > width:
            line = line[: max(width - 1, 1)] + "…"
        print(line, file=out)


@dataclass
class HeadTail:
    """The first and last rows of a stream, and how many there were."""

    head: pa.Table | None
    tail: pa.Table | None
    rows: int


def head_and_tail(batches: Iterable[pa.RecordBatch], limit: int) -> HeadTail:
    """Keep ``limit`` rows at most in memory: the first ``ceil(limit/2)`` and the last
    ``floor(limit/2)`` (all of them when the stream holds ``limit`` or fewer)."""
    first, last = limit - limit // 2, limit // 2
    head: list[pa.RecordBatch] = []
    kept = 0
    tail: deque[pa.RecordBatch] = deque()
    in_tail = 0
    rows = 0
    for batch in batches:
        rows += batch.num_rows
        if kept < first:
            take = batch.slice(0, first - kept)
            head.append(take)
            kept += take.num_rows
            batch = batch.slice(take.num_rows)
        if batch.num_rows and last:
            tail.append(batch.slice(max(batch.num_rows - last, 0)))
            in_tail += tail[-1].num_rows
            while tail and in_tail - tail[0].num_rows >= last:
                in_tail -= tail.popleft().num_rows
    head_table = pa.Table.from_batches(head) if head else None
    tail_table = pa.Table.from_batches(list(tail)) if tail else None
    if tail_table is not None and tail_table.num_rows > last:
        tail_table = tail_table.slice(tail_table.num_rows - last)
    return HeadTail(head_table, tail_table, rows)


def print_rows(view: HeadTail, schema: pa.Schema, out: TextIO, width: int) -> None:
    """The head, a line saying how many rows are not shown, then the tail."""
    names = schema.names
    head = _cells(view.head, names)
    tail = _cells(view.tail, names)
    hidden = view.rows - len(head) - len(tail)
    gap = [["…"] * len(names)] if hidden > 0 else []
    print_table([names, *head, *gap, *tail], out, width)
    shown = f"{len(head) + len(tail):,} shown" if hidden > 0 else "all shown"
    print(f"{view.rows:,} rows ({shown}; --limit N shows more, --out FILE writes all)", file=out)


def print_first_rows(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, rows: int, out: TextIO, width: int
) -> None:
    """The first ``rows`` rows of a stream (the rest is never read)."""
    taken: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        taken.append(batch.slice(0, rows - count))
        count += taken[-1].num_rows
        if count >= rows:
            break
    table = pa.Table.from_batches(taken, schema=schema)
    print_table([schema.names, *_cells(table, schema.names)], out, width)


def _cells(table: pa.Table | None, names: Sequence[str]) -> list[list[str]]:
    if table is None:
        return []
    columns = [table.column(name).to_pylist() for name in names]
    return [[format_value(column[i]) for column in columns] for i in range(table.num_rows)]


def format_value(value: Any) -> str:
    """A cell as a quant reads it: times in ISO without a zone suffix (they are UTC)."""
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.10g}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def scanned_stats(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema
) -> list[tuple[str, str, int, str, str]]:
    """``(column, type, nulls, min, max)`` per column, computed over every row (for
    datasets small enough to read whole; ``column_stats`` reads only footers)."""
    import pyarrow.compute as pc

    found: dict[str, list[Any]] = {name: [0, None, None] for name in schema.names}
    for batch in batches:
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            item = found[name]
            item[0] += column.null_count
            try:
                low, high = pc.min_max(column).values()
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                continue
            low, high = low.as_py(), high.as_py()
            if low is not None and (item[1] is None or _less(low, item[1])):
                item[1] = low
            if high is not None and (item[2] is None or _less(item[2], high)):
                item[2] = high
    return [
        (
            name,
            str(schema.field(name).type),
            int(nulls),
            "-" if low is None else format_value(low),
            "-" if high is None else format_value(high),
        )
        for name, (nulls, low, high) in found.items()
    ]


def column_stats(paths: Sequence[Path]) -> list[tuple[str, str, int, str, str]]:
    """``(column, type, nulls, min, max)`` per column over every row group of ``paths``,
    from the Parquet footers' statistics ("-" where a file wrote none)."""
    found: dict[str, list[Any]] = {}
    types: dict[str, str] = {}
    for path in paths:
        meta = pq.ParquetFile(path).metadata
        schema = meta.schema.to_arrow_schema()
        for field in schema:
            types.setdefault(field.name, str(field.type))
        for group in range(meta.num_row_groups):
            row_group = meta.row_group(group)
            for index in range(row_group.num_columns):
                chunk = row_group.column(index)
                name = chunk.path_in_schema
                item = found.setdefault(name, [0, None, None, True])
                stats = chunk.statistics
                if stats is None:
                    item[3] = False
                    continue
                item[0] += stats.null_count if stats.has_null_count else 0
                if stats.has_min_max:
                    low, high = stats.min, stats.max
                    item[1] = low if item[1] is None or _less(low, item[1]) else item[1]
                    item[2] = high if item[2] is None or _less(item[2], high) else item[2]
    rows = []
    for name, (nulls, low, high, _complete) in found.items():
        shown_low = "-" if low is None else format_value(_as_python(low))
        shown_high = "-" if high is None else format_value(_as_python(high))
        rows.append((name, types.get(name, "?"), int(nulls), shown_low, shown_high))
    return rows


def _less(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        return False


def _as_python(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
