"""One symbol's bar files into one Parquet file: the convert function the engine runs (in
this process or a worker), with the parameters both modes describe their tasks with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from multigate.engine.tasks import ConvertOutput
from multigate.errors import DataError
from multigate.sources.alpaca.bars_check import in_window
from multigate.sources.alpaca.bars_convert import BARS_SCHEMA, BarsConflictError, sorted_unique
from multigate.sources.alpaca.bars_read import bars_file_symbols, read_bars_file
from multigate.sources.alpaca.paths import Series
from multigate.storage.parquet import write_parquet
from multigate.time_chunks import Chunk

CONVERTER = "alpaca-bars"
CONVERTER_VERSION = "1"

Window = list[str] | None
"""``[start, end)`` (ISO times) of the part of an input a task takes; None: all of it."""


def task_params(
    symbol: str, series: Series, fill_symbol: str | None, windows: Sequence[Chunk | None]
) -> dict[str, Any]:
    """What an output depends on besides its inputs' bytes. ``windows`` has one entry per
    input (in order: with the inputs' digests in the fingerprint, each window is bound to
    its file, and one file may appear twice with two windows)."""
    timeframe, feed, adjustment = series
    params: dict[str, Any] = {
        "symbol": symbol,
        "timeframe": timeframe,
        "feed": feed,
        "adjustment": adjustment,
        "fill_symbol": fill_symbol,
    }
    if any(window is not None for window in windows):  # parts of shared wider files
        params["windows"] = [_window_text(window) for window in windows]
    return params


def convert_symbol(inputs: Sequence[Path], tmp: Path, params: Mapping[str, Any]) -> ConvertOutput:
    """Read ``inputs`` (each within its window, if any), keep ``params['symbol']``'s bars,
    drop exact duplicates and write Parquet to ``tmp``."""
    symbol: str = params["symbol"]
    windows: Sequence[Window] = params.get("windows") or [None] * len(inputs)
    tables = [
        _within(read_bars(path, params.get("fill_symbol")), window)
        for path, window in zip(inputs, windows, strict=True)
    ]
    combined = pa.concat_tables(tables) if tables else BARS_SCHEMA.empty_table()
    table = _unique_rows(combined.filter(pc.equal(combined["symbol"], symbol)), symbol)
    write_parquet(table, tmp)
    stamps = table["timestamp"]
    return ConvertOutput(
        rows=table.num_rows,
        first_ts=str(pc.min(stamps)) if table.num_rows else None,
        last_ts=str(pc.max(stamps)) if table.num_rows else None,
        symbols=[symbol],
        warnings=[] if table.num_rows else [f"{symbol}: no bars"],
    )


def notes_from_sidecar(record: Mapping[str, Any]) -> list[str]:
    """The same summary warning for an output that is current."""
    symbol = (record.get("symbols") or ["?"])[0]
    return [] if record.get("rows") else [f"{symbol}: no bars"]


def symbols_in(path: Path, fill_symbol: str | None) -> list[str]:
    """The symbols a bars file holds, or a DataError naming it."""
    try:
        return bars_file_symbols(path, symbol=fill_symbol)
    except (ValueError, OSError) as exc:
        raise DataError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None


def read_bars(path: Path, fill_symbol: str | None) -> pa.Table:
    """A bars file (``fill_symbol`` for a file with no symbol column), or a DataError
    naming it."""
    try:
        return read_bars_file(path, symbol=fill_symbol)
    except (ValueError, OSError) as exc:
        raise DataError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None


def _within(table: pa.Table, window: Window) -> pa.Table:
    if window is None:
        return table
    start, end = (datetime.fromisoformat(text) for text in window)
    return table.filter(in_window(table["timestamp"], Chunk(start, end)))


def _window_text(window: Chunk | None) -> Window:
    return None if window is None else [window.start.isoformat(), window.end.isoformat()]


def _unique_rows(table: pa.Table, symbol: str) -> pa.Table:
    """Drop exact duplicate bars (overlapping files); two different bars at one time fail."""
    try:
        return sorted_unique(table, symbol)
    except BarsConflictError as exc:
        raise DataError(f"{exc} (across the input files)") from None
