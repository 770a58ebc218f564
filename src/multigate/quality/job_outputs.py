"""The sidecars of a job's ingested outputs, grouped into datasets (for ``--strict``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from multigate.storage.layout import ingested_root
from multigate.storage.provenance import read_sidecar


def job_datasets(data_dir: Path, source: str, job: str) -> dict[str, list[dict[str, Any]]]:
    """``{"<source>/<job>[/<schema>]": [sidecar records]}`` of one job's current outputs;
    a job whose outputs hold several record types (``vendor.schema``) is one dataset each."""
    records = []
    folder = ingested_root(data_dir, source, job)
    for path in sorted(folder.rglob("*.parquet")) if folder.is_dir() else []:
        record = read_sidecar(path)
        if record and (record.get("kind"), record.get("source"), record.get("job")) == (
            "ingested",
            source,
            job,
        ):
            records.append(record)
    schemas = {str((r.get("vendor") or {}).get("schema") or "") for r in records}
    datasets: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        name = f"{source}/{job}"
        if len(schemas) > 1:
            name += f"/{(record.get('vendor') or {}).get('schema') or ''}"
        datasets.setdefault(name, []).append(record)
    return datasets


def jobs_datasets(
    data_dir: Path, jobs: Iterable[tuple[str, str]]
) -> dict[str, list[dict[str, Any]]]:
    """:func:`job_datasets` of several ``(source, job)`` pairs, merged."""
    merged: dict[str, list[dict[str, Any]]] = {}
    for source, job in jobs:
        merged.update(job_datasets(data_dir, source, job))
    return merged
