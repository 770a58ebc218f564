"""Read offline bar files (CSV, Parquet, Alpaca JSON / .json.gz) into the bars table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from multigate.sources.alpaca.bars_convert import (
    BARS_SCHEMA,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SHORT_TO_LONG,
    bars_to_table,
    frame_to_table,
)
from multigate.sources.alpaca.raw_store import bars_from_body, load_json_body
from multigate.sources.alpaca.symbols import check_symbols

_ALIASES: dict[str, str] = {
    **{long.lower(): long for long in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)},
    **{short.lower(): long for short, long in SHORT_TO_LONG.items()},
}


def _file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith((".json", ".json.gz")):
        return "json"
    raise ValueError(
        f"{path}: unknown bar file type; expected .csv, .csv.gz, .parquet, .pq, .json or .json.gz"
    )


def normalize_columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rename columns to the long names, case-insensitively, from long or short API names.

    Unknown columns are dropped; two columns naming the same field are an error.
    """
    renames: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column in frame.columns:
        target = _ALIASES.get(str(column).strip().lower())
        if target is None:
            continue
        if target in seen:
            raise ValueError(
                f"{source}: columns {seen[target]!r} and {column!r} both give {target!r}"
            )
        seen[target] = str(column)
        renames[column] = target
    return frame[list(renames)].rename(columns=renames)


def _with_symbol(frame: pd.DataFrame, symbol: str | None, source: str) -> pd.DataFrame:
    if "symbol" in frame.columns:
        if symbol is not None:
            found = set(frame["symbol"].dropna().astype(str))
            if found - {symbol}:
                raise ValueError(
                    f"{source}: symbol={symbol!r} given but the file holds {sorted(found)}"
                )
        return frame
    if symbol is None:
        return frame  # reported as a missing column below
    return frame.assign(symbol=symbol)


def _check_required(frame: pd.DataFrame, source: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        hint = " (or pass symbol=...)" if "symbol" in missing else ""
        raise ValueError(
            f"{source}: missing required columns {missing}{hint}; accepted names "
            "(any case): timestamp/t, open/o, high/h, low/l, close/c, volume/v, "
            "trade_count/n, vwap/vw, symbol/S"
        )


_MISSING_TEXT = [
    "", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "<NA>",
    "#N/A", "#NA", "#N/A N/A", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN",
]  # fmt: skip
"""Cells read as missing, except in a symbol column: ``NA`` (and even ``nan``) is a ticker."""


def _read_csv(file: Path) -> pd.DataFrame:
    """A CSV as text columns; missing-value words apply to every column but the symbol's."""
    header = pd.read_csv(file, nrows=0).columns
    symbols = [c for c in header if _ALIASES.get(str(c).strip().lower()) == "symbol"]
    missing: dict[Any, list[str]] = {c: _MISSING_TEXT for c in header if c not in symbols}
    missing.update({c: [""] for c in symbols})
    return pd.read_csv(file, dtype=str, keep_default_na=False, na_values=missing)


def _api_keys_only(bar: object) -> bool:
    return bar is None or (isinstance(bar, dict) and set(bar) <= _API_KEYS)


_API_KEYS = frozenset(SHORT_TO_LONG)


def read_bars_file(path: str | os.PathLike[str], symbol: str | None = None) -> pa.Table:
    """Offline bars file -> BARS_SCHEMA table sorted by (symbol, timestamp).

    CSV (optionally .csv.gz), Parquet, or Alpaca JSON: an API response body
    `{"bars": {...}, "next_page_token": ...}` (also `{"bars": [...], "symbol": ...}`),
    plain or gzip-compressed, including files written by `write_raw_bars`. `symbol` fills
    the symbol column when the file has none. Naive timestamps are taken as UTC.
    """
    file = Path(path)
    source = str(file)
    if not file.is_file():
        raise FileNotFoundError(f"{source}: no such bars file")
    kind = _file_kind(file)
    if kind == "json":
        bars = bars_from_body(load_json_body(file), source, symbol)
        check_symbols(bars, source)
        if symbol is not None and set(bars) - {symbol}:
            raise ValueError(f"{source}: symbol={symbol!r} given but the file holds {sorted(bars)}")
        if all(_api_keys_only(bar) for items in bars.values() for bar in items):
            return bars_to_table(bars, source)  # the vendor's own shape: the fast path
        rows = [
            {**bar, "__symbol__": name}
            for name, items in bars.items()
            for bar in items
            if bar is not None
        ]
        if not rows:
            return BARS_SCHEMA.empty_table()
        raw = pd.DataFrame.from_records(rows)
        frame = normalize_columns(raw.drop(columns="__symbol__"), source)
        frame = frame.drop(columns="symbol", errors="ignore").assign(symbol=raw["__symbol__"])
    elif kind == "csv":
        try:
            frame = _read_csv(file)
        except pd.errors.EmptyDataError:
            raise ValueError(f"{source}: empty CSV file (no header)") from None
        frame = normalize_columns(frame, source)
    else:
        frame = normalize_columns(pq.read_table(file).to_pandas(), source)
    frame = _with_symbol(frame, symbol, source)
    if "symbol" in frame.columns:
        check_symbols(frame["symbol"].dropna().unique(), source)
    _check_required(frame, source)
    if len(frame) == 0:
        return BARS_SCHEMA.empty_table()
    return frame_to_table(frame, source)


def bars_file_symbols(path: str | os.PathLike[str], symbol: str | None = None) -> list[str]:
    """The symbols an offline bars file holds (``symbol`` as in :func:`read_bars_file`).

    A CSV or Parquet file with one text symbol column and no empty cell is read for that
    column only (its other columns are checked when it is converted); any other file is
    read whole, so its problems are reported as :func:`read_bars_file` reports them.
    """
    file = Path(path)
    values = _symbol_values(file)
    if values is None:
        return sorted(set(read_bars_file(file, symbol)["symbol"].to_pylist()))
    found = set(values)
    if symbol is not None and found - {symbol}:
        raise ValueError(f"{file}: symbol={symbol!r} given but the file holds {sorted(found)}")
    check_symbols(found, str(file))
    return sorted(found)


def _symbol_values(file: Path) -> list[str] | None:
    """A CSV's or Parquet file's symbol column alone, when reading just it is safe."""
    try:
        kind = _file_kind(file) if file.is_file() else None
        if kind == "csv":
            names = list(pd.read_csv(file, nrows=0).columns)
        elif kind == "parquet":
            names = pq.read_schema(file).names
        else:
            return None
    except (ValueError, OSError, pa.ArrowException):
        return None  # the whole read reports it
    columns = [c for c in names if _ALIASES.get(str(c).strip().lower()) == "symbol"]
    if len(columns) != 1:
        return None
    if kind == "csv":
        cells = pd.read_csv(
            file, usecols=columns, dtype=str, keep_default_na=False, na_values={columns[0]: [""]}
        )[columns[0]]
        if cells.isna().any():
            return None
        return [str(value) for value in cells.unique()]
    table = pq.read_table(file, columns=columns)
    column = table.column(0)
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return None
    if column.null_count or pc.any(pc.equal(column, "")).as_py():
        return None
    return [str(value) for value in pc.unique(column).to_pylist()]
