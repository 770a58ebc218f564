"""Databento reference data (``adjustment-factors``, ``corporate-actions``) from the JSON
lines the Reference API returns (``.jsonl`` or ``.jsonl.zst``) to Parquet.

Values are kept as the vendor sent them: the date and time fields the databento client
converts (its own column lists) become dates and UTC times, the numeric fields listed here
numbers, and every other field a string (objects and lists as compact JSON). Two columns
are added so the catalog can read the dataset like any other: ``date`` (the ex-date; for a
corporate action without one, its event date) and ``symbol`` (the vendor's ``symbol``, else
``nasdaq_symbol``, else ``local_code``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from multigate.engine.tasks import ConvertOutput
from multigate.errors import DataError
from multigate.storage.parquet import write_parquet

ReferenceSchema = Literal["adjustment-factors", "corporate-actions"]
JSONL_SUFFIXES = (".jsonl.zst", ".jsonl")
CONVERTER = "databento-reference-jsonl"
CONVERTER_VERSION = "1"
UTC_NS = pa.timestamp("ns", tz="UTC")
_FLOATS: dict[str, frozenset[str]] = {
    "adjustment-factors": frozenset({"factor", "close", "sentiment", "gross_dividend"}),
    "corporate-actions": frozenset({"ratio_old", "ratio_new", "par_value", "lot_size"}),
}
_INTEGERS: dict[str, frozenset[str]] = {
    "adjustment-factors": frozenset({"reason", "option"}),
    "corporate-actions": frozenset({"rd_priority"}),
}


def _time_columns(schema: str) -> tuple[frozenset[str], frozenset[str]]:
    """The date and the datetime fields of ``schema``, as the databento client lists them."""
    from databento.common import constants

    if schema == "adjustment-factors":
        dates = constants.ADJUSTMENT_FACTORS_DATE_COLUMNS
        times = constants.ADJUSTMENT_FACTORS_DATETIME_COLUMNS
    else:
        dates = constants.CORPORATE_ACTIONS_DATE_COLUMNS
        times = constants.CORPORATE_ACTIONS_DATETIME_COLUMNS
    return frozenset(dates), frozenset(times)


def reference_stem(path: Path, base: Path) -> str:
    """The output name of an input below ``base``: its relative path with ``/`` as ``~``;
    ``x.jsonl.zst`` -> ``x``, ``x.jsonl`` -> ``x.jsonl`` (so the two never meet)."""
    try:
        parts = list(path.relative_to(base).parts) or [path.name]
    except ValueError:
        parts = [path.name]
    parts[-1] = parts[-1].removesuffix(".jsonl.zst")
    escaped = [part.replace("%", "%25").replace("~", "%7E") for part in parts]
    return "~".join(escaped)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The records of one JSON-lines file (zstd-compressed when it ends with ``.zst``)."""
    try:
        raw = path.read_bytes()
        if path.name.endswith(".zst"):
            raw = _decompress(raw)
    except DataError as exc:
        raise DataError(f"{path.name}: cannot read: {exc}") from None
    except Exception as exc:  # OSError, or zstandard's error for a broken stream
        raise DataError(f"{path.name}: cannot read: {exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path.name}: not JSON lines (byte {exc.start} is not UTF-8 text)"
        ) from None
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path.name} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path.name} line {number}: not a JSON object")
        records.append(record)
    return records


def _decompress(raw: bytes) -> bytes:
    """Every zstd frame of ``raw``, decompressed; DataError when the last is cut short."""
    import zstandard

    parts, rest = [], raw
    while rest:
        frame = zstandard.ZstdDecompressor().decompressobj()
        parts.append(frame.decompress(rest))
        if not frame.eof:
            raise DataError("the zstd stream ends inside a frame (a partial file?)")
        rest = frame.unused_data
    return b"".join(parts)


def to_table(records: Sequence[Mapping[str, Any]], schema: str) -> pa.Table:
    """The records as a table (types as described in the module docstring), sorted by
    ``date`` then ``symbol``."""
    dates, times = _time_columns(schema)
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [record.get(name) for record in records]
        columns[name] = _column(name, values, schema, dates, times)
    table = pa.table(columns) if columns else pa.table({"ex_date": pa.array([], pa.date32())})
    day = _first_present(table, ["ex_date", "event_date"], pa.date32())
    symbol = _first_present(table, ["symbol", "nasdaq_symbol", "local_code"], pa.string())
    table = table.drop_columns([name for name in ("date", "symbol") if name in table.column_names])
    table = table.append_column("date", day).append_column("symbol", symbol)
    order = pc.sort_indices(table, sort_keys=[("date", "ascending"), ("symbol", "ascending")])
    return table.take(order)


def _column(
    name: str, values: list[Any], schema: str, dates: frozenset[str], times: frozenset[str]
) -> pa.Array:
    try:
        if name in dates:
            return pa.array(
                [None if v is None else date.fromisoformat(v) for v in values], pa.date32()
            )
        if name in times:
            import pandas as pd

            stamps = [None if v is None else pd.Timestamp(v).tz_convert("UTC") for v in values]
            return pa.array(stamps, type=UTC_NS)
        if name in _FLOATS[schema]:
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        if name in _INTEGERS[schema]:
            return pa.array([None if v is None else int(v) for v in values], pa.int64())
    except (TypeError, ValueError) as exc:
        raise DataError(f"field '{name}': {exc}") from None
    return pa.array([_text(v) for v in values], pa.string())


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _first_present(table: pa.Table, names: Sequence[str], kind: pa.DataType) -> pa.Array:
    """The first non-null of ``names`` on each row (null where none is)."""
    found = [table[name] for name in names if name in table.column_names]
    if not found:
        return pa.nulls(table.num_rows, kind)
    return pc.coalesce(*found).combine_chunks().cast(kind)


def convert_reference(
    inputs: Sequence[Path], tmp: Path, params: Mapping[str, Any]
) -> ConvertOutput:
    """One JSON-lines file of reference records into one Parquet file at ``tmp``."""
    (src,) = inputs
    schema = params["schema"]
    records = read_lines(src)  # its errors name the file
    try:
        table = to_table(records, schema)
    except DataError as exc:
        raise DataError(f"{src.name}: {exc}") from None
    write_parquet(table, tmp)
    days = table["date"].drop_null()
    symbols = sorted(set(table["symbol"].drop_null().to_pylist()))
    return ConvertOutput(
        rows=table.num_rows,
        first_ts=str(pc.min(days).as_py()) if len(days) else None,
        last_ts=str(pc.max(days).as_py()) if len(days) else None,
        symbols=symbols,
        vendor={"vendor": "Databento", "schema": schema, "format": "jsonl"},
    )
