"""Check that a DBN file decodes completely (used on every download before it is kept)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .dbn_columns import build_plan
from .dbn_enums import schema_name
from .dbn_records import iter_homogeneous, iter_mixed
from .dbn_schemas import RTYPE_TO_SCHEMA, rtypes_for_schema, struct_for_schema
from .dbn_stream import open_v3
from .errors import DbnFileError

_ROWS_PER_CHUNK = 1 << 16


def verify_dbn_file(src: Path) -> int:
    """Decode every record of ``src`` without keeping any; return the record count.

    Raises DbnFileError naming the file when the header, a record or the compressed
    stream is incomplete or corrupt.
    """
    reader = None
    try:
        reader, meta, _version = open_v3(src)
        count = 0
        if meta.schema is not None:
            schema = str(schema_name(meta))
            dtype = _dtype(schema, meta.ts_out)
            for recs in iter_homogeneous(reader, dtype, rtypes_for_schema(schema), _ROWS_PER_CHUNK):
                count += len(recs)
        else:
            dtypes = {s: _dtype(s, meta.ts_out) for s in set(RTYPE_TO_SCHEMA.values())}
            for groups in iter_mixed(reader, dtypes):
                count += sum(len(recs) for _, recs in groups)
        return count
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # incl. pyo3 PanicException
        raise DbnFileError(src, f"{type(exc).__name__}: {exc}") from exc
    finally:
        if reader is not None:
            reader.close()


def _dtype(schema: str, ts_out: bool) -> np.dtype[Any]:
    return build_plan(struct_for_schema(schema), "float", bool(ts_out)).np_dtype
