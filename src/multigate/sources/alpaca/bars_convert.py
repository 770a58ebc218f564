"""Vendor bar dicts / bar frames -> the normalized pyarrow bars table.

Columns and types match alpaca-py's `BarSet(raw).df.reset_index()` values: every price,
`volume`, `trade_count` and `vwap` is float64 (alpaca-py's `Bar` model declares them
float); `timestamp` is timestamp[ns, UTC] (alpaca-py's frame holds the same instants).
`trade_count`/`vwap` are null where the vendor omits them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SHORT_TO_LONG: dict[str, str] = {
    "S": "symbol",
    "t": "timestamp",
    "o": "open",
    "h": "high",
    "l": "low",
    "c": "close",
    "v": "volume",
    "n": "trade_count",
    "vw": "vwap",
}
FLOAT_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume", "trade_count", "vwap")
REQUIRED_COLUMNS: tuple[str, ...] = (
    "symbol",
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "volume",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("trade_count", "vwap")

BARS_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("open", pa.float64()),
        pa.field("high", pa.float64()),
        pa.field("low", pa.float64()),
        pa.field("close", pa.float64()),
        pa.field("volume", pa.float64()),
        pa.field("trade_count", pa.float64()),
        pa.field("vwap", pa.float64()),
    ]
)


class BarsConflictError(ValueError):
    """Two different bars share (symbol, timestamp)."""


def to_utc_timestamps(values: pd.Series, source: str = "bars") -> pd.Series:
    """Timestamps (RFC 3339 strings or datetimes) -> datetime64[ns, UTC]; naive = UTC."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        series = values
        if getattr(series.dt, "tz", None) is None:
            series = series.dt.tz_localize("UTC")
    elif pd.api.types.is_numeric_dtype(values.dtype) and len(values) > 0:
        raise ValueError(
            f"{source}: numeric timestamps are not supported (unit ambiguous); "
            "use RFC 3339 strings or a timestamp column"
        )
    else:
        try:
            series = pd.to_datetime(values.astype(object), utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{source}: unparseable timestamp ({exc})") from None
    return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def frame_to_table(frame: pd.DataFrame, source: str = "bars") -> pa.Table:
    """Frame with long column names -> BARS_SCHEMA table, sorted by (symbol, timestamp).

    Rows identical on every column are de-duplicated; rows sharing (symbol, timestamp) with
    different values raise BarsConflictError.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{source}: missing required columns {missing}")
    out = pd.DataFrame(index=range(len(frame)))
    out["symbol"] = frame["symbol"].astype(object).to_numpy()
    if out["symbol"].isna().any() or (out["symbol"].astype(str) == "").any():
        raise ValueError(f"{source}: empty symbol in some rows")
    out["symbol"] = out["symbol"].astype(str)
    out["timestamp"] = to_utc_timestamps(frame["timestamp"].reset_index(drop=True), source)
    if out["timestamp"].isna().any():
        raise ValueError(f"{source}: missing timestamp in some rows")
    for column in FLOAT_COLUMNS:
        if column in frame.columns:
            try:
                out[column] = pd.to_numeric(
                    frame[column].reset_index(drop=True), errors="raise"
                ).astype("float64")
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{source}: column {column!r} is not numeric ({exc})") from None
        else:
            out[column] = pd.Series([float("nan")] * len(out), dtype="float64")
    out = out.sort_values(["symbol", "timestamp"], kind="stable").drop_duplicates()
    clashes = out.duplicated(["symbol", "timestamp"], keep=False)
    if clashes.any():
        sample = out.loc[clashes, ["symbol", "timestamp"]].head(3).to_dict("records")
        raise BarsConflictError(
            f"{source}: {int(clashes.sum())} rows share (symbol, timestamp) with different "
            f"values, e.g. {sample}"
        )
    out = out.reset_index(drop=True)
    table = pa.Table.from_pandas(out, schema=BARS_SCHEMA, preserve_index=False)
    return table.replace_schema_metadata(None)


def bars_to_table(
    bars_by_symbol: Mapping[str, Sequence[Mapping[str, Any] | None]], source: str = "bars"
) -> pa.Table:
    """{symbol: [{"t","o","h","l","c","v","n","vw"}, ...]} -> BARS_SCHEMA table.

    Built column by column in Arrow (no per-row objects beyond the vendor's own dicts), so
    memory stays close to the size of the data. ``None`` entries are skipped, as alpaca-py's
    BarSet does.
    """
    symbols: list[str] = []
    columns: dict[str, list[Any]] = {short: [] for short in _BAR_KEYS}
    for symbol, bars in bars_by_symbol.items():
        kept = [bar for bar in bars if bar is not None]
        symbols.extend([symbol] * len(kept))
        for short, values in columns.items():
            values.extend(bar.get(short) for bar in kept)
    if not symbols:
        return BARS_SCHEMA.empty_table()
    if any(value is None for value in columns["t"]):
        raise ValueError(f"{source}: missing timestamp in some bars")
    try:
        arrays = [
            pa.array(symbols, pa.string()),
            pc.cast(pa.array(columns["t"], pa.string()), pa.timestamp("ns", tz="UTC")),
            *(pa.array(columns[short], pa.float64()) for short in _BAR_KEYS[1:]),
        ]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"{source}: bad bar value ({exc})") from None
    table = pa.Table.from_arrays(arrays, schema=BARS_SCHEMA)
    return sorted_unique(table, source)


_BAR_KEYS: tuple[str, ...] = ("t", "o", "h", "l", "c", "v", "n", "vw")


def sorted_unique(table: pa.Table, source: str = "bars") -> pa.Table:
    """Sort by (symbol, timestamp); drop rows identical to their neighbour; raise
    BarsConflictError when two different rows share (symbol, timestamp)."""
    table = table.sort_by([("symbol", "ascending"), ("timestamp", "ascending")])
    if table.num_rows < 2:
        return table
    symbols = table["symbol"].to_numpy(zero_copy_only=False)
    stamps = table["timestamp"].to_numpy(zero_copy_only=False)
    same_key = (symbols[1:] == symbols[:-1]) & (stamps[1:] == stamps[:-1])
    if not same_key.any():
        return table
    same_row = same_key.copy()
    for column in FLOAT_COLUMNS:
        values = table[column].to_numpy(zero_copy_only=False).astype("float64")
        equal = (values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1]))
        same_row &= equal
    clashes = same_key & ~same_row
    if clashes.any():
        first = int(np.argmax(clashes)) + 1
        raise BarsConflictError(
            f"{source}: {int(clashes.sum())} rows share (symbol, timestamp) with different "
            f"values, e.g. {symbols[first]} at {stamps[first]}"
        )
    keep = np.concatenate([[True], ~same_row])
    return table.filter(pa.array(keep))
