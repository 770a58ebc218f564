"""Read a set of outputs with symbol and time filters: pruned by the index entries, then
by Parquet row-group statistics, filtered exactly, sorted by time then symbol.

``scan`` cuts the time range into windows of about ``batch_rows`` rows (from the index's
row counts, assuming rows spread evenly over each file's time range) and reads one window
at a time, so memory stays bounded whatever the dataset's size while rows still come out
in order.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from multigate.catalog.errors import CatalogError
from multigate.storage.outputs import OutputEntry, time_unit_ns
from multigate.storage.parquet import READ_FORMAT

DEFAULT_BATCH_ROWS = 500_000


@dataclass(frozen=True)
class StoredFile:
    """An output to read: its index entry and where its bytes are now."""

    entry: OutputEntry
    path: Path


@dataclass(frozen=True)
class ReadRequest:
    """What to read: the files, the columns (None = all), the symbols (None = all) and the
    half-open UTC range ``[start, end)`` in nanoseconds (None = unbounded)."""

    files: Sequence[StoredFile]
    columns: Sequence[str] | None = None
    symbols: frozenset[str] | None = None
    start: int | None = None
    end: int | None = None


def select(request: ReadRequest, start: int | None, end: int | None) -> list[StoredFile]:
    """The files that may hold rows in ``[start, end)`` for the requested symbols, in
    path order (the order ties keep)."""
    chosen = []
    for item in request.files:
        entry = item.entry
        if entry.rows == 0:
            continue
        symbols = request.symbols
        if symbols is not None and entry.symbols and symbols.isdisjoint(entry.symbols):
            continue
        if entry.tmin is not None and entry.tmax is not None:
            if start is not None and entry.tmax < start:
                continue
            if end is not None and entry.tmin >= end:
                continue
        chosen.append(item)
    return chosen


def output_schema(request: ReadRequest) -> pa.Schema:
    """The schema of what a read returns (the first file's, narrowed to ``columns``)."""
    if not request.files:
        raise CatalogError("the dataset has no outputs")
    schema = _file_schema(request.files[0].path)
    if request.columns is None:
        return schema
    missing = [name for name in request.columns if name not in schema.names]
    if missing:
        raise CatalogError(
            f"unknown column(s) {', '.join(missing)}; columns: {', '.join(schema.names)}"
        )
    return pa.schema([schema.field(name) for name in request.columns])


def read_table(request: ReadRequest) -> pa.Table:
    """Every matching row, sorted by time then symbol (stable: ties keep stored order)."""
    schema = output_schema(request)
    return _read_range(request, schema, request.start, request.end)


def scan_batches(
    request: ReadRequest, batch_rows: int = DEFAULT_BATCH_ROWS
) -> pa.RecordBatchReader:
    """The rows of ``read_table`` as a stream, one time window at a time."""
    schema = output_schema(request)
    return pa.RecordBatchReader.from_batches(schema, _windows(request, schema, batch_rows))


def _windows(request: ReadRequest, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    for low, high in window_bounds(request, batch_rows):
        table = _read_range(request, schema, low, high)
        yield from table.to_batches(max_chunksize=batch_rows)
        del table


def _read_range(
    request: ReadRequest, schema: pa.Schema, start: int | None, end: int | None
) -> pa.Table:
    files = select(request, start, end)
    if not files:
        return schema.empty_table()
    time_column = files[0].entry.time_column
    full = _file_schema(files[0].path)
    wanted = list(schema.names)
    keys = [time_column] + (["symbol"] if "symbol" in full.names else [])
    read_columns = wanted + [key for key in keys if key not in wanted]
    dataset = _dataset(tuple(_stamp(item.path) for item in files), full)
    symbols = request.symbols if _needs_symbol_filter(files, request.symbols) else None
    inside = _inside(files, start, end)
    condition = _condition(
        full, time_column, symbols, None if inside else start, None if inside else end
    )
    try:  # row groups are pruned by their statistics; every page read is checksummed
        table = dataset.to_table(columns=read_columns, filter=condition)
    except OSError as exc:
        raise _damaged(files, exc) from None
    if not _is_sorted(table, keys):
        order = pc.sort_indices(table, sort_keys=[(key, "ascending") for key in keys])
        table = table.take(order)
    return table.select(wanted)


FileStamp = tuple[str, int, int]
"""A file's path, size and modification time: what a cached footer is valid for."""


def _stamp(path: Path) -> FileStamp:
    stat = path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns)


def _file_schema(path: Path) -> pa.Schema:
    return _schema_of(_stamp(path))


@functools.lru_cache(maxsize=64)
def _schema_of(stamp: FileStamp) -> pa.Schema:
    return pq.read_schema(stamp[0])


@functools.lru_cache(maxsize=16)
def _dataset(stamps: tuple[FileStamp, ...], schema: pa.Schema) -> ds.Dataset:
    """The files as a dataset, kept while none of them changes: its fragments keep the
    footers they parsed, so the next read of the same files prunes row groups without
    parsing them again."""
    return ds.dataset([stamp[0] for stamp in stamps], format=READ_FORMAT, schema=schema)


def _batches(
    item: StoredFile, parquet: pq.ParquetFile, columns: list[str]
) -> Iterator[pa.RecordBatch]:
    try:
        yield from parquet.iter_batches(batch_size=1 << 16, columns=columns)
    except OSError as exc:
        raise _damaged([item], exc) from None


def _damaged(files: Sequence[StoredFile], exc: OSError) -> CatalogError:
    """A read that failed on bytes that are not what was written (a checksum, a
    truncated or unreadable page), naming the file when the reason names it."""
    named = [str(item.path) for item in files if str(item.path) in str(exc)]
    where = named[0] if named else ", ".join(str(item.path) for item in files[:3])
    more = "" if named or len(files) <= 3 else f" (or one of {len(files) - 3} more)"
    return CatalogError(
        f"cannot read {where}{more}: {exc}; the file is damaged or was changed after it "
        "was written: run the ingest again to rewrite it"
    )


def _needs_symbol_filter(files: Sequence[StoredFile], symbols: frozenset[str] | None) -> bool:
    """False when the index shows every file holds only wanted symbols."""
    if symbols is None:
        return False
    return any(
        not item.entry.symbols or not symbols.issuperset(item.entry.symbols) for item in files
    )


def _inside(files: Sequence[StoredFile], start: int | None, end: int | None) -> bool:
    """True when the index shows every file's rows lie in ``[start, end)``."""
    for item in files:
        low, high = item.entry.tmin, item.entry.tmax
        if start is not None and (low is None or low < start):
            return False
        if end is not None and (high is None or high >= end):
            return False
    return True


def _is_sorted(table: pa.Table, keys: Sequence[str]) -> bool:
    """Whether ``table`` is already in (time, symbol) order (then sorting is skipped)."""
    if table.num_rows < 2:
        return True
    column = table.column(keys[0])
    if column.null_count:
        return False
    storage = pa.int32() if pa.types.is_date32(column.type) else pa.int64()
    stamps = column.cast(storage).to_numpy()
    steps = np.diff(stamps)
    if (steps < 0).any():
        return False
    if len(keys) == 1 or not (steps == 0).any():
        return True
    return bool(pc.count_distinct(table.column(keys[1]), mode="all").as_py() <= 1)


def _condition(
    schema: pa.Schema,
    time_column: str,
    symbols: frozenset[str] | None,
    start: int | None,
    end: int | None,
) -> ds.Expression | None:
    parts = []
    if symbols is not None and "symbol" in schema.names:
        parts.append(pc.field("symbol").isin(sorted(symbols)))
    time_type = schema.field(time_column).type
    scale = time_unit_ns(time_type)
    if start is not None:
        parts.append(pc.field(time_column) >= _time_scalar(-(-start // scale), time_type))
    if end is not None:
        parts.append(pc.field(time_column) < _time_scalar(-(-end // scale), time_type))
    if not parts:
        return None
    condition = parts[0]
    for part in parts[1:]:
        condition = condition & part
    return condition


def _time_scalar(units: int, time_type: pa.DataType) -> pa.Scalar:
    """A scalar of the time column's type, ``units`` of its unit after the epoch."""
    storage = pa.int32() if pa.types.is_date32(time_type) else pa.int64()
    return pa.scalar(units, type=storage).cast(time_type)


def window_bounds(request: ReadRequest, batch_rows: int) -> list[tuple[int | None, int | None]]:
    """Half-open ``[low, high)`` ranges, in order, each holding about ``batch_rows`` rows
    (cut at quantiles of a strided sample of the matching timestamps; rows sharing one
    timestamp always fall in one window)."""
    files = select(request, request.start, request.end)
    total = sum(item.entry.rows for item in files)
    if total <= batch_rows:
        return [(request.start, request.end)]
    windows = math.ceil(total / batch_rows)
    stride = max(1, total // (windows * _SAMPLES_PER_WINDOW))
    sample = np.sort(np.concatenate([np.empty(0, np.int64), *_time_sample(request, files, stride)]))
    if sample.size == 0:
        return [(request.start, request.end)]
    picks = (np.arange(1, windows) * sample.size) // windows
    cuts = [int(value) for value in np.unique(sample[picks])]
    low = sample[0]
    cuts = [cut for cut in cuts if cut > low]
    edges: list[int | None] = [request.start, *cuts, request.end]
    return list(itertools.pairwise(edges))


_SAMPLES_PER_WINDOW = 64


def _time_sample(
    request: ReadRequest, files: Sequence[StoredFile], stride: int
) -> Iterator[np.ndarray]:
    """Every ``stride``-th matching timestamp (UTC ns) of ``files``, streamed."""
    for item in files:
        parquet = pq.ParquetFile(item.path, page_checksum_verification=True)
        schema = parquet.schema_arrow
        time_column = item.entry.time_column
        scale = time_unit_ns(schema.field(time_column).type)
        columns = [time_column]
        by_symbol = request.symbols is not None and "symbol" in schema.names
        if by_symbol:
            columns.append("symbol")
        for batch in _batches(item, parquet, columns):
            storage = pa.int32() if pa.types.is_date32(batch.column(0).type) else pa.int64()
            stamps = batch.column(0).cast(storage).to_numpy(zero_copy_only=False)
            stamps = stamps.astype(np.int64) * scale
            keep = np.ones(len(stamps), dtype=bool)
            if request.start is not None:
                keep &= stamps >= request.start
            if request.end is not None:
                keep &= stamps < request.end
            if by_symbol and request.symbols is not None:
                wanted = pa.array(sorted(request.symbols), pa.string())
                keep &= pc.is_in(batch.column(1), value_set=wanted).to_numpy(zero_copy_only=False)
            yield stamps[keep][::stride]
