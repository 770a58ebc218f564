"""The report of a data folder, from its sidecars and the Databento ledger alone."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from multigate.html_report.render import render_report
from multigate.quality.job_outputs import collect_datasets
from multigate.storage.atomic import write_bytes_atomic


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
    """Write the report of every dataset under ``data_dir`` to ``out`` (atomically), with
    pictures of the values read from its outputs within a budget;
    ``snapshots(name)`` gives a dataset's snapshots. Returns how many datasets it shows."""
    datasets = [
        (name, records, list(snapshots(name)) if snapshots else [])
        for name, records in collect_datasets(data_dir)
    ]
    page = render_report(datasets, read_databento_ledger(data_dir), data_dir=data_dir)
    write_bytes_atomic(out, page.encode("utf-8"))
    return len(datasets)
