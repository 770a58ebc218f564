"""``snapshots prune``: forget old runs, and vacuum the files only they still referenced.

Runs are the commits' ``multigate.run`` ids across every table of a data folder. Pruning
keeps the ``keep`` newest runs and/or those committed from ``before`` on (both given: a run
goes when both say so); a run that made some table's newest version always stays, as it
is the current data. Each table then gets a Delta ``vacuum`` that keeps every file of the
versions still readable, and its record lists the versions removed. Call under the run
lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from deltalake import DeltaTable

from multigate.storage.delta_tables import is_run_id
from multigate.storage.table_paths import find_tables
from multigate.storage.table_record import TableRecord, read_table_record, write_table_record

log = logging.getLogger(__name__)


def prune_runs(
    data_dir: Path, *, keep: int | None = None, before: datetime | None = None
) -> tuple[list[str], int]:
    """Remove old runs (see the module); returns the runs removed and how many data files
    the vacuum deleted."""
    if keep is None and before is None:
        raise ValueError("say what to prune: keep N newest and/or before a date")
    tables = [root for _, root in find_tables(data_dir)]
    records = {root: read_table_record(root) for root in tables}
    versions = {root: _run_versions(root, records[root]) for root in tables}
    committed: dict[str, datetime] = {}
    for found in versions.values():
        for run, _, moment in found:
            committed[run] = max(committed.get(run, moment), moment)
    runs = sorted(committed)
    heads = {found[-1][0] for found in versions.values() if found}
    old = set(runs[: max(len(runs) - keep, 0)]) if keep is not None else set(runs)
    if before is not None:
        old = {run for run in old if committed[run] < before}
    removed = sorted(old - heads)
    if not removed:
        return [], 0
    deleted = 0
    for root in tables:
        deleted += _vacuum(root, records[root], versions[root], set(removed))
    return removed, deleted


def _run_versions(root: Path, record: TableRecord | None) -> list[tuple[str, int, datetime]]:
    """(run id, version, commit time) of each still readable commit a Multigate run made,
    oldest first."""
    pruned = record.pruned if record is not None else frozenset()
    found = []
    for info in DeltaTable(str(root)).history():
        run = str((info.get("multigate") or {}).get("run", ""))
        if is_run_id(run) and int(info["version"]) not in pruned:
            moment = datetime.fromtimestamp(int(info["timestamp"]) / 1000, UTC)
            found.append((run, int(info["version"]), moment))
    return sorted(found, key=lambda item: item[1])


def _vacuum(
    root: Path,
    record: TableRecord | None,
    versions: Iterable[tuple[str, int, datetime]],
    removed: set[str],
) -> int:
    """Drop the versions of ``removed`` runs from what stays readable."""
    gone = frozenset(version for run, version, _ in versions if run in removed)
    if not gone:
        return 0
    table = DeltaTable(str(root))
    was_pruned = record.pruned if record is not None else frozenset()
    kept = [v for v in range(table.version() + 1) if v not in gone | was_pruned]
    deleted = table.vacuum(
        retention_hours=0,
        dry_run=False,
        enforce_retention_duration=False,
        keep_versions=kept,
    )
    if record is not None:
        write_table_record(root, record.with_pruned(gone))
    log.info("%s: %d version(s) pruned, %d file(s) deleted", root, len(gone), len(deleted))
    return len(deleted)
