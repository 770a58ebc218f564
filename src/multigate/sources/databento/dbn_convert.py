"""Streaming, faithful DBN -> Parquet conversion (public entry point).

Pipeline: decompress (zstd) -> upgrade to DBN v3 if older (vendor Transcoder) -> read
fixed-size chunks of raw records -> ``np.frombuffer`` with the vendor's v3 record dtype
-> Arrow arrays built from numpy -> background ParquetWriter thread (rows sorted by
symbol, stably, in bounded memory; see ``multigate.storage.parquet`` for the layout).
See ``convert_dbn_file`` for the exact output contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import databento_dbn as dbn
import numpy as np
import pyarrow as pa

from multigate.storage.parquet import ROW_GROUP_ROWS

from .dbn_columns import RecordPlan, build_plan, convert_columns
from .dbn_control import ControlRecords, scan_control_records
from .dbn_enums import schema_name
from .dbn_legacy import (
    LEGACY_DEFINITION_FIELDS,
    LEGACY_DEFINITION_LAYOUT,
    LegacyDefinitionTap,
    legacy_definition_struct,
)
from .dbn_records import iter_homogeneous, iter_mixed
from .dbn_schemas import RTYPE_TO_SCHEMA, rtypes_for_schema, struct_for_schema
from .dbn_stream import ByteReader, open_v3
from .dbn_symbols import SymbolResolver
from .errors import DbnFileError
from .parquet_sink import ParquetSink

# Raw record bytes decoded per chunk (small chunks pipeline and cache better), and the
# cap on raw record bytes per Parquet row group (bounds the writer's buffer for wide
# schemas such as mbp-10 and definition). Peak memory is a few chunks plus one row group,
# independent of file size.
CHUNK_BYTES = 8 * 1024 * 1024
ROW_GROUP_MAX_BYTES = 96 * 1024 * 1024
# Raw record bytes sorted by symbol at a time before conversion (the sink merges these
# sorted runs; bigger runs mean fewer, longer pieces per symbol to merge).
SORT_RUN_BYTES = 32 * 1024 * 1024


@dataclass
class ConvertedOutput:
    schema: str
    path: Path
    rows: int = 0
    first_ts: int | None = None  # min valid index timestamp (ts_recv or ts_event), UNIX ns
    last_ts: int | None = None  # max valid index timestamp, UNIX ns
    symbols: list[str] = field(default_factory=list)
    # records of the file that belong to no output (mixed files: symbol mappings, system
    # and error messages), by kind, and the texts of its first error messages
    other_records: dict[str, int] = field(default_factory=dict)
    error_messages: list[str] = field(default_factory=list)


class ConvertedFile(list[ConvertedOutput]):
    """A file's outputs (a list, one per schema), with the file's own count of records that
    belong to no output (by kind) and the texts of its first error messages: known even
    when the file has no output at all."""

    def __init__(
        self,
        outputs: list[ConvertedOutput],
        other_records: dict[str, int],
        error_messages: list[str],
    ) -> None:
        super().__init__(outputs)
        self.other_records = other_records
        self.error_messages = error_messages


class _Output:
    """Per-schema accumulation of stats while converting."""

    def __init__(self, schema: str, path: Path, plan: RecordPlan) -> None:
        self.result = ConvertedOutput(schema=schema, path=path)
        self.plan = plan
        self.symbols: set[str] = set()
        self.held: list[tuple[np.ndarray, np.ndarray | None]] = []
        self.held_bytes = 0

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
        row_group_size: int,
        sink: ParquetSink,
        resolver: SymbolResolver,
        ts_out: bool,
        legacy: LegacyDefinitionTap | None = None,
    ) -> None:
        self._output_for_schema = output_for_schema
        self._price_type = price_type
        self._row_group_size = row_group_size
        self._sink = sink
        self._resolver = resolver
        self._ts_out = ts_out
        self._legacy = legacy
        self.outputs: dict[str, _Output] = {}

    def plan(self, schema: str) -> RecordPlan:
        struct = struct_for_schema(schema)
        if schema == "definition":  # every version: one set of columns (null from v3 files)
            return build_plan(
                struct,
                self._price_type,
                self._ts_out,
                legacy_struct=LEGACY_DEFINITION_LAYOUT,
                legacy_fields=LEGACY_DEFINITION_FIELDS,
            )
        return build_plan(struct, self._price_type, self._ts_out)

    def ensure_output(self, schema: str) -> _Output:
        out = self.outputs.get(schema)
        if out is None:
            plan = self.plan(schema)
            path = Path(self._output_for_schema(schema))
            out = _Output(schema, path, plan)
            self.outputs[schema] = out
            group = min(self._row_group_size, ROW_GROUP_MAX_BYTES // plan.np_dtype.itemsize)
            self._sink.open(schema, path, plan.arrow_schema, max(1, group))
        return out

    def add(self, schema: str, recs: np.ndarray) -> None:
        """Hold ``recs`` (and their legacy fields, taken now, in stream order); past
        ``SORT_RUN_BYTES`` of records, sort and hand on what is held."""
        out = self.ensure_output(schema)
        legacy = None
        if schema == "definition" and self._legacy is not None:
            legacy = self._legacy.take(len(recs))
        out.held.append((recs, legacy))
        out.held_bytes += recs.nbytes
        if out.held_bytes >= SORT_RUN_BYTES:
            self._flush(out)

    def flush(self) -> None:
        for out in self.outputs.values():
            self._flush(out)

    def _flush(self, out: _Output) -> None:
        """Sort the held records by symbol as raw records (one cheap gather, instead of
        one per Arrow column), convert them and hand them to the sink, which merges the
        sorted runs."""
        if not out.held:
            return
        plan = out.plan
        parts, out.held, out.held_bytes = out.held, [], 0
        recs = np.concatenate([part for part, _ in parts]) if len(parts) > 1 else parts[0][0]
        legacies = [extra for _, extra in parts if extra is not None]
        legacy = np.concatenate(legacies) if legacies else None
        order, symbols, names = self._resolver.resolve_grouped(
            recs["instrument_id"], recs[plan.index_column]
        )
        if order is not None:
            recs = _gather(recs, order)
            legacy = None if legacy is None else _gather(legacy, order)
        arrays = convert_columns(plan, recs, self._price_type, legacy)
        arrays.append(symbols)
        table = pa.Table.from_arrays(arrays, schema=plan.arrow_schema)
        out.update(recs, names)
        self._sink.write(out.result.schema, table)


def _gather(recs: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``recs[order]``, moving whole records as opaque bytes (15x faster than numpy's
    field-by-field copy of a structured array)."""
    opaque = np.dtype((np.void, recs.dtype.itemsize))
    return np.ascontiguousarray(recs).view(opaque)[order].view(recs.dtype)


def _run(
    reader: ByteReader,
    conv: _Converter,
    schema: str | None,
    row_group_size: int,
    progress: Callable[[int], None] | None,
) -> None:
    done = 0
    if schema is not None:
        out = conv.ensure_output(schema)  # 0-record files still get a 0-row output
        dtype = out.plan.np_dtype
        # chunks are sorted and regrouped downstream, so their size is free of the row
        # groups'; a row group smaller than the default still caps it (many small chunks)
        rows = max(1, CHUNK_BYTES // dtype.itemsize)
        if row_group_size < ROW_GROUP_ROWS:
            rows = max(1, min(rows, row_group_size))
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
    row_group_size: int = ROW_GROUP_ROWS,
    progress: Callable[[int], None] | None = None,
) -> ConvertedFile:
    """Convert a ``.dbn`` / ``.dbn.zst`` file (DBN v1-v3) to one Parquet file per schema.

    Each output's rows are sorted by symbol (unmapped last), stably: each symbol's rows,
    read back with ``pyarrow.parquet.read_table(p).to_pandas()``, equal that symbol's rows
    of ``DBNStore.from_file(src).to_df(price_type=price_type).reset_index()`` of the file
    upgraded to DBN v3: same columns and order (index column first, ``symbol`` last),
    values, row order and pandas dtypes (uint8/uint16/uint32/int32/... kept exactly;
    timestamps ``datetime64[ns, UTC]`` with NaT for UNDEF_TIMESTAMP; prices float64 with
    NaN for UNDEF_PRICE, or raw int64 for ``"fixed"``; chars/strings ``str``). Two
    documented exceptions, both equal values: an all-unmapped ``symbol`` column is
    ``str`` (NaN) where to_df gives ``object`` (None), and 0-row timestamps are ``[ns]``
    where to_df gives ``[s]``. For v1/v2 definition and statistics files (the only
    layouts that changed) this means v3 columns. Definition outputs of every version
    also carry the four fields v3 dropped (``LEGACY_DEFINITION_FIELDS``), placed where
    the v1/v2 layout has them, so that one job's definition files share one schema: from
    v1/v2 files decoded as the file's own to_df decodes them, from v3 files all null.

    Files with an unset (mixed) schema (live captures) are split by record type, one
    output per schema in order of first appearance (rtype MBP_1 is named "mbp-1", never
    "tbbo"), each equal to ``to_df(schema=...)``: symbols come from the in-stream
    ``SymbolMappingMsg`` records as well as the metadata; records that belong to no
    output are counted in ``other_records`` (of each output and of the returned
    :class:`ConvertedFile`). Such a file with no market data but an error message (a
    refused login) fails, with the gateway's texts.

    Row groups hold ``row_group_size`` rows, except that a row group never holds more
    than ``ROW_GROUP_MAX_BYTES`` of raw records (mbp-10 / definition groups are shorter),
    which bounds memory. ``progress`` is called with the cumulative record count after
    each decoded chunk. Outputs are written directly to the paths returned by
    ``output_for_schema``; on any error every output is deleted and
    :class:`DbnFileError` naming ``src`` is raised.
    """
    src = Path(src)
    if price_type not in ("float", "fixed"):
        raise ValueError(f"price_type must be 'float' or 'fixed', not {price_type!r}")
    if row_group_size < 1:
        raise ValueError("row_group_size must be >= 1")
    sink: ParquetSink | None = None
    reader: ByteReader | None = None
    try:
        legacy: list[LegacyDefinitionTap] = []

        def tap_for(original: dbn.Metadata) -> Callable[[bytes], None] | None:
            if legacy_definition_struct(original.version) is None:
                return None
            if original.schema not in (None, dbn.Schema.DEFINITION):
                return None
            legacy.append(LegacyDefinitionTap(original.version, original.ts_out))
            return legacy[0].feed

        reader, meta, _version = open_v3(src, tap_for)
        control = ControlRecords() if meta.schema is not None else scan_control_records(src)
        sink = ParquetSink()
        resolver = SymbolResolver(meta, control.mappings)
        conv = _Converter(
            output_for_schema,
            price_type,
            row_group_size,
            sink,
            resolver,
            meta.ts_out,
            legacy[0] if legacy else None,
        )
        schema = schema_name(meta)
        _run(reader, conv, schema, row_group_size, progress)
        conv.flush()
        if not conv.outputs and control.errors:  # e.g. a capture of a refused login
            counts = ", ".join(f"{kind} {n}" for kind, n in sorted(control.counts.items()))
            raise DbnFileError(
                src,
                f"no market data, only control records ({counts}); the gateway said: "
                + "; ".join(repr(text) for text in control.errors),
            )
        sink.close()
        results = [out.finish() for out in conv.outputs.values()]
        for res in results:
            res.other_records = dict(control.counts)
            res.error_messages = list(control.errors)
        return ConvertedFile(results, dict(control.counts), list(control.errors))
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        if sink is not None:
            sink.abort()
        raise
    except BaseException as exc:  # incl. pyo3 PanicException (a BaseException subclass)
        if sink is not None:
            sink.abort()
        if isinstance(exc, DbnFileError):
            raise
        reason = str(exc) or type(exc).__name__
        raise DbnFileError(src, f"{type(exc).__name__}: {reason}") from exc
    finally:
        if reader is not None:
            reader.close()
