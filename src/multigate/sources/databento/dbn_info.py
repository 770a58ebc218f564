"""Cheap metadata inspection of a DBN file, for provenance."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dbn_enums import schema_name
from .dbn_schemas import struct_for_schema
from .dbn_stream import open_decompressed, read_metadata_bytes
from .errors import DbnFileError


@dataclass(frozen=True)
class DbnFileInfo:
    path: Path
    dataset: str
    schema: str | None  # None for mixed-schema files
    stype_in: str | None
    stype_out: str
    start: int  # UNIX ns
    end: int | None  # UNIX ns, None if unset
    symbols: list[str]
    not_found: list[str]  # requested symbols the vendor could not resolve
    version: int  # DBN version as stored in the file (converted output is always v3)
    ts_out: bool
    compressed: bool
    record_count: int | None  # known without decoding only for uncompressed v3 files


def read_dbn_metadata(src: Path) -> DbnFileInfo:
    """Read only the metadata header of ``src``; raise DbnFileError if unreadable."""
    src = Path(src)
    try:
        reader = open_decompressed(src)
        try:
            block, meta = read_metadata_bytes(reader)
            compressed = not isinstance(reader, io.BufferedReader)
        finally:
            reader.close()
        schema = schema_name(meta)
        count = None
        if not compressed and schema is not None and meta.version >= 3:
            itemsize = 8 * meta.ts_out + np.dtype(struct_for_schema(schema)._dtypes).itemsize
            body = src.stat().st_size - len(block)
            count = body // itemsize if body % itemsize == 0 else None
        end = meta.end
        return DbnFileInfo(
            path=src,
            dataset=meta.dataset,
            schema=schema,
            stype_in=None if meta.stype_in is None else str(meta.stype_in.value),
            stype_out=str(meta.stype_out.value),
            start=int(meta.start),
            end=None if end is None or end >= 2**63 else int(end),
            symbols=list(meta.symbols),
            not_found=list(meta.not_found),
            version=int(meta.version),
            ts_out=bool(meta.ts_out),
            compressed=compressed,
            record_count=count,
        )
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # incl. pyo3 PanicException
        raise DbnFileError(src, f"{type(exc).__name__}: {exc}") from exc
