"""Datasets of a data folder from its sidecars alone (for the report without a catalog)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from multigate.html_report.render import render_report
from multigate.storage.atomic import write_bytes_atomic

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


def read_databento_ledger(data_dir: Path) -> list[dict[str, Any]]:
    """The records of ``raw/databento/ledger.jsonl`` (none when it is missing); a line that
    is not a JSON object (a torn last write) is skipped."""
    path = data_dir / "raw" / "databento" / "ledger.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def write_report(
    data_dir: Path,
    out: Path,
    snapshots: Callable[[str], Sequence[Mapping[str, Any]]] | None = None,
) -> int:
    """Write the report of every dataset under ``data_dir`` to ``out`` (atomically);
    ``snapshots(name)`` gives a dataset's snapshots. Returns how many datasets it shows."""
    datasets = [
        (name, records, list(snapshots(name)) if snapshots else [])
        for name, records in collect_datasets(data_dir)
    ]
    page = render_report(datasets, read_databento_ledger(data_dir))
    write_bytes_atomic(out, page.encode("utf-8"))
    return len(datasets)
