"""The convert tasks of an offline reference job: one JSON-lines file, one Parquet file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from multigate.engine import ConvertTask
from multigate.sources.databento.config import (
    DatabentoOfflineJob,
    DatabentoReferenceJob,
    ReferenceSchema,
)
from multigate.sources.databento.paths import output_path
from multigate.sources.databento.reference import (
    CONVERTER,
    CONVERTER_VERSION,
    convert_reference,
)

TOOLS = ("multigate", "pyarrow", "databento")


def reference_tasks(
    data_dir: Path,
    job: DatabentoOfflineJob | DatabentoReferenceJob,
    schema: ReferenceSchema,
    inputs: Sequence[tuple[Path, str]],
) -> list[ConvertTask]:
    """One task per input file, written to ``schema=<schema>/<stem>.parquet``."""
    return [
        ConvertTask(
            inputs=(src,),
            output=output_path(data_dir, job.name, schema, stem),
            converter=CONVERTER,
            converter_version=CONVERTER_VERSION,
            convert=convert_reference,
            params={"schema": schema},
            source="databento",
            job=job.name,
            mode=job.mode,
            query=job.model_dump(mode="json", by_alias=True),
            tools=TOOLS,
        )
        for src, stem in inputs
    ]
