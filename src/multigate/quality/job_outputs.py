"""The sidecars of ingested outputs, grouped into datasets (``<source>/<job>[/<schema>]``),
read without opening any Parquet file."""

from __future__ import annotations

import json
import os
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


SIDECAR_SUFFIX = ".parquet.source.json"


def _sidecars(folder: Path) -> list[str]:
    found: list[str] = []
    stack = [str(folder)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.name.endswith(SIDECAR_SUFFIX) and not entry.name.startswith("."):
                    found.append(entry.path)
    return sorted(found)


def collect_datasets(data_dir: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    """``[(dataset name, sidecar records)]`` of every ingested output under ``data_dir``:
    ``<source>/<job>``, or ``<source>/<job>/<schema>`` for a job holding several record
    types. Reads sidecars only; a sidecar whose Parquet file is gone is left out."""
    root = data_dir / "ingested"
    by_job: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for sidecar in _sidecars(root) if root.is_dir() else []:
        if not os.path.exists(sidecar[: -len(".source.json")]):
            continue
        try:
            with open(sidecar, "rb") as handle:
                record = json.loads(handle.read())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or record.get("kind") != "ingested":
            continue
        by_job.setdefault((str(record.get("source")), str(record.get("job"))), []).append(record)
    datasets = []
    for (source, job), records in sorted(by_job.items()):
        schemas = sorted({str((r.get("vendor") or {}).get("schema") or "") for r in records})
        if len(schemas) <= 1:
            datasets.append((f"{source}/{job}", records))
            continue
        for schema in schemas:
            chosen = [
                r for r in records if str((r.get("vendor") or {}).get("schema") or "") == schema
            ]
            datasets.append((f"{source}/{job}/{schema}", chosen))
    return datasets
