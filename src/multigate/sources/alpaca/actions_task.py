"""The convert task of an Alpaca corporate-actions job: its saved bodies, one output."""

from __future__ import annotations

from multigate.context import RunContext
from multigate.engine import ConvertTask
from multigate.sources.alpaca.config import AlpacaCorporateActionsJob
from multigate.sources.alpaca.corporate_actions import (
    CONVERTER,
    CONVERTER_VERSION,
    convert_actions,
)
from multigate.sources.local_inputs import find_path_inputs
from multigate.storage.layout import ingested_root


def actions_task(ctx: RunContext, job: AlpacaCorporateActionsJob) -> ConvertTask:
    """Every file the job names into ``ingested/alpaca/<job>/corporate_actions.parquet``."""
    inputs = tuple(find_path_inputs(ctx.resolve(job.corporate_actions)))
    return ConvertTask(
        inputs=inputs,
        output=ingested_root(ctx.data_dir, "alpaca", job.name) / "corporate_actions.parquet",
        converter=CONVERTER,
        converter_version=CONVERTER_VERSION,
        convert=convert_actions,
        params={},
        source="alpaca",
        job=job.name,
        mode=job.mode,
        query=job.model_dump(mode="json"),
        vendor={"vendor": "Alpaca", "schema": "corporate-actions"},
    )
