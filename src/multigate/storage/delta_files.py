"""What a Delta log says of a Parquet file: the table schema its columns read as, and its
``add`` action's statistics, from the file's footer (never its rows).

Delta has no unsigned integers: each is declared as the signed type that holds all its
values (``uint8`` as ``short``, ``uint32`` as ``long``, ``uint64`` as ``decimal(20,0)``), so
readers that cast to the table schema never overflow (DBN ``flags`` of 128 and more are
common). The files keep their vendor types; the catalog reads them as stored.

Readers prune files by the statistics, so every bound is conservative: a column whose row
groups lack statistics gets none, and timestamps are widened to whole milliseconds (the
minimum down, the maximum up), the precision Delta readers assume.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_WIDER = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.decimal128(20, 0),
}
_NS_PER = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_NS_PER_MS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def table_schema(schema: pa.Schema) -> pa.Schema:
    """The Delta table schema for files of ``schema``: unsigned integers widened, dictionary
    columns as their values, timestamps of seconds or milliseconds as microseconds."""
    return pa.schema(
        [pa.field(f.name, _table_type(f.type), f.nullable) for f in schema],
        metadata=None,
    )


def _table_type(arrow_type: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(arrow_type):
        return _table_type(arrow_type.value_type)
    if arrow_type in _WIDER:
        return _WIDER[arrow_type]
    if pa.types.is_timestamp(arrow_type) and arrow_type.unit in ("s", "ms"):
        return pa.timestamp("us", arrow_type.tz)
    return arrow_type


def file_stats(metadata: pq.FileMetaData) -> str:
    """The JSON ``stats`` of a file: ``numRecords``, and ``minValues``, ``maxValues`` and
    ``nullCount`` of each top-level column whose every row group has statistics."""
    schema = metadata.schema.to_arrow_schema()
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for index in range(metadata.num_columns):
        name = metadata.schema.column(index).path
        if "." in name or name not in schema.names:
            continue  # nested columns: no statistics kept
        bounds = _column_bounds(metadata, index)
        if bounds is None:
            continue
        lowest, highest, null_count = bounds
        nulls[name] = null_count
        arrow_type = schema.field(name).type
        if lowest is None or highest is None:
            continue
        formatted = _format(arrow_type, lowest, highest)
        if formatted is not None:
            low[name], high[name] = formatted
    return json.dumps(
        {"numRecords": metadata.num_rows, "minValues": low, "maxValues": high, "nullCount": nulls},
        separators=(",", ":"),
    )


def _column_bounds(metadata: pq.FileMetaData, index: int) -> tuple[Any, Any, int] | None:
    lowest: Any = None
    highest: Any = None
    null_count = 0
    for group in range(metadata.num_row_groups):
        column = metadata.row_group(group).column(index)
        stats = column.statistics
        if stats is None or stats.null_count is None:
            return None
        null_count += stats.null_count
        if column.num_values == stats.null_count:
            continue  # only nulls here: no bounds to add
        if not stats.has_min_max:
            return None
        lowest = stats.min_raw if lowest is None else min(lowest, stats.min_raw)
        highest = stats.max_raw if highest is None else max(highest, stats.max_raw)
    return lowest, highest, null_count


def _format(arrow_type: pa.DataType, lowest: Any, highest: Any) -> tuple[Any, Any] | None:
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_timestamp(arrow_type):
        scale = _NS_PER[arrow_type.unit]
        low_ms = (int(lowest) * scale) // _NS_PER_MS
        high_ms = -((-int(highest) * scale) // _NS_PER_MS)
        return _iso_ms(low_ms), _iso_ms(high_ms)
    if pa.types.is_date32(arrow_type):
        return _date(int(lowest)), _date(int(highest))
    if arrow_type == pa.uint64():
        return None  # a decimal(20,0) in the table: no bounds rather than a wrong one
    if pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type):
        return int(lowest), int(highest)
    if pa.types.is_floating(arrow_type):
        if math.isnan(lowest) or math.isnan(highest):
            return None
        return float(lowest), float(highest)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return _text(lowest), _text(highest)
    return None  # dictionaries, binaries, decimals: no bounds (readers then read the file)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _iso_ms(milliseconds: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=milliseconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _date(days: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=days)).isoformat()
