"""Streaming, faithful DBN -> Parquet conversion (public entry point).

The Parquet written for each schema, read back with pyarrow, equals
``databento.DBNStore.from_file(src).to_df(price_type=...).reset_index()`` (after the
file is upgraded to DBN v3, as the vendor's decoder does), see README-level notes in
``convert_dbn_file``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pyarrow as pa

from .dbn_columns import RecordPlan, build_plan, convert_columns
from .dbn_records import iter_homogeneous, iter_mixed
from .dbn_schemas import RTYPE_TO_SCHEMA, rtypes_for_schema, struct_for_schema
from .dbn_stream import open_v3
from .dbn_symbols import SymbolResolver
from .errors import DbnFileError
from .parquet_sink import ParquetSink

# Raw record bytes decoded per chunk; with a queue of one table, peak memory stays at a
# few chunks regardless of file size.
CHUNK_BYTES = 48 * 1024 * 1024


@dataclass
class ConvertedOutput:
    schema: str
    path: Path
    rows: int = 0
    first_ts: int | None = None  # min valid index timestamp (ts_recv or ts_event), UNIX ns
    last_ts: int | None = None  # max valid index timestamp, UNIX ns
    symbols: list[str] = field(default_factory=list)


class _Output:
    """Per-schema accumulation of stats while converting."""

    def __init__(self, schema: str, path: Path, plan: RecordPlan) -> None:
        self.result = ConvertedOutput(schema=schema, path=path)
        self.plan = plan
        self.symbols: set[str] = set()

    def update(self, recs: np.ndarray, syms: set[str]) -> None:
        res = self.result
        res.rows += len(recs)
        self.symbols |= syms
        ts = np.ascontiguousarray(recs[self.plan.index_column]).view(np.int64)
        valid = ts[ts >= 0]
        if valid.size:
            lo, hi = int(valid.min()), int(valid.max())
            res.first_ts = lo if res.first_ts is None else min(res.first_ts, lo)
            res.last_ts = hi if res.last_ts is None else max(res.last_ts, hi)

    def finish(self) -> ConvertedOutput:
        self.result.symbols = sorted(self.symbols)
        return self.result


class _Converter:
    def __init__(
        self,
        output_for_schema: Callable[[str], Path],
        price_type: Literal["float", "fixed"],
        sink: ParquetSink,
        resolver: SymbolResolver,
        ts_out: bool,
    ) -> None:
        self._output_for_schema = output_for_schema
        self._price_type = price_type
        self._sink = sink
        self._resolver = resolver
        self._ts_out = ts_out
        self.outputs: dict[str, _Output] = {}

    def plan(self, schema: str) -> RecordPlan:
        return build_plan(struct_for_schema(schema), self._price_type, self._ts_out)

    def ensure_output(self, schema: str) -> _Output:
        out = self.outputs.get(schema)
        if out is None:
            plan = self.plan(schema)
            path = Path(self._output_for_schema(schema))
            out = _Output(schema, path, plan)
            self.outputs[schema] = out
            self._sink.open(schema, path, plan.arrow_schema)
        return out

    def add(self, schema: str, recs: np.ndarray) -> None:
        out = self.ensure_output(schema)
        plan = out.plan
        arrays = convert_columns(plan, recs, self._price_type)
        symbols, names = self._resolver.resolve(recs["instrument_id"], recs[plan.index_column])
        arrays.append(symbols)
        table = pa.Table.from_arrays(arrays, schema=plan.arrow_schema)
        out.update(recs, names)
        self._sink.write(schema, table)


def _run(
    reader: IO[bytes],
    conv: _Converter,
    schema: str | None,
    row_group_size: int,
    progress: Callable[[int], None] | None,
) -> None:
    done = 0
    if schema is not None:
        out = conv.ensure_output(schema)  # 0-record files still get a 0-row output
        dtype = out.plan.np_dtype
        rows = max(1, min(row_group_size, CHUNK_BYTES // dtype.itemsize))
        for recs in iter_homogeneous(reader, dtype, rtypes_for_schema(schema), rows):
            conv.add(schema, recs)
            done += len(recs)
            if progress is not None:
                progress(done)
        return
    dtypes = {s: conv.plan(s).np_dtype for s in set(RTYPE_TO_SCHEMA.values())}
    for groups in iter_mixed(reader, dtypes):
        for name, recs in groups:
            conv.add(name, recs)
            done += len(recs)
        if progress is not None:
            progress(done)


def convert_dbn_file(
    src: Path,
    output_for_schema: Callable[[str], Path],
    *,
    price_type: Literal["float", "fixed"] = "float",
    row_group_size: int = 1_000_000,
    progress: Callable[[int], None] | None = None,
) -> list[ConvertedOutput]:
    """Convert a ``.dbn`` / ``.dbn.zst`` file (DBN v1-v3) to one Parquet file per schema.

    Output columns, order, values and row order match
    ``DBNStore.from_file(src).to_df(price_type=price_type).reset_index()`` of the file
    upgraded to DBN v3. Files with an unset (mixed) schema are split by record type.
    ``row_group_size`` is an upper bound: a chunk (= row group) also never exceeds
    ``CHUNK_BYTES`` of raw records, which bounds memory for wide schemas (mbp-10,
    definition). Outputs are written directly to the given paths; on any error every
    output is deleted and :class:`DbnFileError` naming ``src`` is raised.
    """
    src = Path(src)
    if price_type not in ("float", "fixed"):
        raise ValueError(f"price_type must be 'float' or 'fixed', not {price_type!r}")
    if row_group_size < 1:
        raise ValueError("row_group_size must be >= 1")
    sink: ParquetSink | None = None
    reader: IO[bytes] | None = None
    try:
        reader, meta, _version = open_v3(src)
        sink = ParquetSink(row_group_size)
        conv = _Converter(output_for_schema, price_type, sink, SymbolResolver(meta), meta.ts_out)
        schema = None if meta.schema is None else str(meta.schema.value)
        _run(reader, conv, schema, row_group_size, progress)
        sink.close()
        return [out.finish() for out in conv.outputs.values()]
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        if sink is not None:
            sink.abort()
        raise
    except BaseException as exc:  # incl. pyo3 PanicException (a BaseException subclass)
        if sink is not None:
            sink.abort()
        reason = str(exc) or type(exc).__name__
        raise DbnFileError(src, f"{type(exc).__name__}: {reason}") from exc
    finally:
        if reader is not None:
            reader.close()
