"""The ingest-time hook: assess an ingested Parquet output before its sidecar is written."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pyarrow as pa

from multigate.quality.assess import assess_parquet
from multigate.quality.calendars import default_calendar
from multigate.storage.provenance import Provenance

log = logging.getLogger(__name__)


def with_quality(path: Path, provenance: Provenance) -> Provenance:
    """``provenance`` with its ``quality`` field filled for an ingested Parquet output
    (unchanged for raw files). A file the checks cannot read is recorded, never fatal:
    quality checks flag, they do not reject."""
    if provenance.kind != "ingested" or provenance.quality:
        return provenance
    if not provenance.file.name.endswith(".parquet"):
        return provenance
    record = {"source": provenance.source, "query": provenance.query, "vendor": provenance.vendor}
    calendar = default_calendar(record)
    try:
        quality = assess_parquet(path, calendar=calendar)
    except (ValueError, OSError, pa.ArrowException) as exc:
        log.warning("quality checks could not read %s: %s", path, exc)
        quality = {"error": str(exc)}
    return dataclasses.replace(provenance, quality=quality)
