"""Deterministic Parquet writing: the same table gives the same bytes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_ROW_GROUP_SIZE = 1_000_000
COMPRESSION = "zstd"


def write_parquet(
    table: pa.Table, path: Path, row_group_size: int = DEFAULT_ROW_GROUP_SIZE
) -> None:
    """Write ``table`` to ``path`` (which should be a temporary path; see atomic_path)."""
    table = table.replace_schema_metadata(None)
    pq.write_table(
        table,
        path,
        compression=COMPRESSION,
        row_group_size=row_group_size,
        write_statistics=True,
    )
