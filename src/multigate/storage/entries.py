"""Catalog entries <-> an Arrow table (how table records store them and the catalog groups
them)."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from multigate.storage.outputs import OutputEntry

ENTRY_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("source", pa.string()),
        ("job", pa.string()),
        ("part", pa.string()),
        ("sha256", pa.string()),
        ("bytes", pa.int64()),
        ("rows", pa.int64()),
        ("symbols", pa.list_(pa.string())),
        ("time_column", pa.string()),
        ("tmin", pa.int64()),
        ("tmax", pa.int64()),
        ("flagged", pa.list_(pa.struct([("check", pa.string()), ("count", pa.int64())]))),
    ]
)


def entries_table(entries: Iterable[OutputEntry]) -> pa.Table:
    rows = [entry.to_dict() for entry in entries]
    return pa.Table.from_pylist(rows, schema=ENTRY_SCHEMA)


def table_entries(table: pa.Table) -> list[OutputEntry]:
    return [OutputEntry.from_dict(row) for row in table.to_pylist()]
