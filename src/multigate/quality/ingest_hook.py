"""The ingest-time hook: assess an ingested Parquet output before its sidecar is written."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from multigate.quality.assess import assess_parquet
from multigate.quality.calendars import default_calendar
from multigate.storage.provenance import Provenance

log = logging.getLogger(__name__)


def with_quality(path: Path, provenance: Provenance) -> Provenance:
    """``provenance`` with its ``quality`` field filled for an ingested Parquet output
    (unchanged for raw files)."""
    if provenance.kind != "ingested" or provenance.quality:
        return provenance
    if not provenance.file.name.endswith(".parquet"):
        return provenance
    quality = assess_output(
        path, source=provenance.source, query=provenance.query, vendor=provenance.vendor
    )
    return dataclasses.replace(provenance, quality=quality)


def assess_output(
    path: Path, *, source: str, query: Mapping[str, Any], vendor: Mapping[str, Any]
) -> dict[str, Any]:
    """The quality checks of the ingested Parquet file ``path``, against the calendar its
    source, query and vendor details call for. A file the checks cannot read is recorded,
    never fatal: quality checks flag, they do not reject."""
    calendar = default_calendar({"source": source, "query": query, "vendor": vendor})
    try:
        return assess_parquet(path, calendar=calendar)
    except (ValueError, OSError, pa.ArrowException) as exc:
        log.warning("quality checks could not read %s: %s", path, exc)
        return {"error": str(exc)}
