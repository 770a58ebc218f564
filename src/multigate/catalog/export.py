"""Write a stream of record batches to a Parquet or CSV file, atomically, in bounded memory."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from multigate.storage.atomic import atomic_path
from multigate.storage.parquet import COMPRESSION


def write_batches(reader: pa.RecordBatchReader, out: Path) -> int:
    """Write every batch of ``reader`` to ``out`` (.parquet or .csv); return the row count."""
    rows = 0
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".csv":
            with pacsv.CSVWriter(tmp, reader.schema) as csv_writer:
                for batch in reader:
                    csv_writer.write_batch(batch)
                    rows += batch.num_rows
        else:
            with pq.ParquetWriter(tmp, reader.schema, compression=COMPRESSION) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
    return rows
