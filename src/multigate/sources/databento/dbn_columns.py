"""Column plans: turn a numpy view of DBN v3 records into Arrow arrays, matching to_df.

The plan for a record struct follows ``databento``'s ``DBNStore.to_df`` exactly:
columns in ``_ordered_fields`` order (index column first), then ``symbol``;
``_timestamp_fields`` become UTC ``timestamp[ns]`` (null where the value does not
fit int64, i.e. the UNDEF_TIMESTAMP sentinel, like ``pd.to_datetime(errors="coerce")``);
``_price_fields`` become float64 (value / 1e9, NaN for UNDEF_PRICE) or stay raw int64
when ``price_type="fixed"``; ``S<n>`` char fields become UTF-8 strings with trailing
NULs stripped; every other field keeps its exact numpy integer width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

UNDEF_PRICE = np.iinfo(np.int64).max
FIXED_PRICE_SCALE = 1e9
UTC_NS = pa.timestamp("ns", tz="UTC")

PriceType = Literal["float", "fixed"]
Kind = Literal["ts", "px", "str", "num"]


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    np_dtype: str  # numpy dtype code of the raw field, e.g. "u8", "i8", "S71"
    arrow_type: pa.DataType
    legacy: bool = False  # a pre-v3 field the v3 record lacks (values come separately,
    # or none: null)


@dataclass(frozen=True)
class RecordPlan:
    """How to decode one record struct: numpy layout plus output columns."""

    struct_name: str
    np_dtype: np.dtype[Any]
    columns: tuple[ColumnSpec, ...]
    index_column: str

    @property
    def arrow_schema(self) -> pa.Schema:
        fields = [pa.field(c.name, c.arrow_type) for c in self.columns]
        fields.append(pa.field("symbol", pa.string()))
        return pa.schema(fields)


def _column(
    name: str, code: str, struct: Any, price_type: PriceType, legacy: bool = False
) -> ColumnSpec:
    if name in struct._timestamp_fields:
        return ColumnSpec(name, "ts", code, UTC_NS, legacy)
    if name in struct._price_fields:
        typ = pa.float64() if price_type == "float" else pa.int64()
        return ColumnSpec(name, "px", code, typ, legacy)
    if code.startswith("S"):
        return ColumnSpec(name, "str", code, pa.string(), legacy)
    return ColumnSpec(name, "num", code, pa.from_numpy_dtype(np.dtype(code)), legacy)


def build_plan(
    struct: Any,
    price_type: PriceType,
    ts_out: bool = False,
    legacy_struct: Any | None = None,
    legacy_fields: tuple[str, ...] = (),
) -> RecordPlan:
    """Build the plan for a ``databento_dbn`` record class (v3 layout).

    With ``legacy_struct`` (an older record class), each of ``legacy_fields`` (fields the
    v3 layout dropped) is added right after the column it follows in the older layout,
    typed as that layout's to_df decodes it.
    """
    raw = list(struct._dtypes)
    if ts_out:
        raw.append(("ts_out", "u8"))
    dtypes = dict(raw)
    cols = [_column(name, dtypes[name], struct, price_type) for name in struct._ordered_fields]
    if legacy_struct is not None:
        old_codes = dict(legacy_struct._dtypes)
        old_order = list(legacy_struct._ordered_fields)
        for name in legacy_fields:
            spec = _column(name, old_codes[name], legacy_struct, price_type, legacy=True)
            before = old_order[: old_order.index(name)]
            names = [c.name for c in cols]
            anchor = max((names.index(b) for b in before if b in names), default=-1)
            cols.insert(anchor + 1, spec)
    return RecordPlan(
        struct_name=struct.__name__,
        np_dtype=np.dtype(raw),
        columns=tuple(cols),
        index_column=struct._ordered_fields[0],
    )


def _ts_array(values: np.ndarray) -> pa.Array:
    as_int = np.ascontiguousarray(values).view(np.int64)
    invalid = as_int < 0  # raw uint64 >= 2**63, incl. UNDEF_TIMESTAMP: NaT in to_df
    mask = invalid if invalid.any() else None
    return pa.array(as_int, type=UTC_NS, mask=mask)


def _px_array(values: np.ndarray, price_type: PriceType) -> pa.Array:
    raw = np.ascontiguousarray(values)
    if price_type == "fixed":
        return pa.array(raw, type=pa.int64())
    out = raw.astype(np.float64)
    out /= FIXED_PRICE_SCALE
    out[raw == UNDEF_PRICE] = np.nan
    return pa.array(out, type=pa.float64())


def _char_array(values: np.ndarray) -> pa.Array:
    """Single ``c_char`` field (``S1``) -> Arrow string: NUL -> "", else the one byte."""
    raw = np.ascontiguousarray(values).view(np.uint8)
    present = raw != 0
    offsets = np.zeros(len(raw) + 1, dtype=np.int32)
    np.cumsum(present, out=offsets[1:])
    data = raw[present]
    if data.size and data.max() >= 0x80:  # not ASCII: bytes.decode("utf-8") would fail
        raise ValueError("invalid UTF-8 in char field")
    return pa.StringArray.from_buffers(len(raw), pa.py_buffer(offsets), pa.py_buffer(data))


def _str_array(values: np.ndarray) -> pa.Array:
    """Fixed-width NUL-padded bytes -> Arrow string, like numpy 'S' + bytes.decode()."""
    width = values.dtype.itemsize
    if width == 1:
        return _char_array(values)
    n = len(values)
    mat = np.ascontiguousarray(values).view(np.uint8).reshape(n, width)
    nonzero = mat != 0
    # length = index of the last non-NUL byte + 1 (numpy 'S' strips trailing NULs only)
    last = width - np.argmax(nonzero[:, ::-1], axis=1)
    lengths = np.where(nonzero.any(axis=1), last, 0).astype(np.int32)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = mat[np.arange(width)[None, :] < lengths[:, None]]
    arr = pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))
    )
    arr.validate(full=True)  # invalid UTF-8 must fail, as bytes.decode("utf-8") would
    return arr


def convert_columns(
    plan: RecordPlan,
    recs: np.ndarray,
    price_type: PriceType,
    legacy: np.ndarray | None = None,
) -> list[pa.Array]:
    """Convert a structured array of records to Arrow arrays (symbol column excluded).

    ``legacy`` holds the values of the plan's legacy columns, one row per record; without
    it (a v3 input) those columns are all null."""
    out: list[pa.Array] = []
    for col in plan.columns:
        if col.legacy:
            if legacy is None:
                out.append(pa.nulls(len(recs), col.arrow_type))
                continue
            if len(legacy) != len(recs):
                raise ValueError(f"no original values for legacy column {col.name}")
            values = legacy[col.name]
        else:
            values = recs[col.name]
        if col.kind == "ts":
            out.append(_ts_array(values))
        elif col.kind == "px":
            out.append(_px_array(values, price_type))
        elif col.kind == "str":
            out.append(_str_array(values))
        else:
            out.append(pa.array(np.ascontiguousarray(values), type=col.arrow_type))
    return out
