"""The catalog's index of current outputs, kept in ``<data_dir>/catalog/index.parquet``.

Built once from the sidecars and Parquet footers under ``ingested/``, then brought up to
date from the snapshot records each run writes (no tree walk); rebuilt when missing or
asked to. Reads look outputs up here, so they never list the data folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from multigate.catalog.entries_table import ENTRY_SCHEMA, entries_table
from multigate.storage.atomic import atomic_path
from multigate.storage.layout import SIDECAR_SUFFIX
from multigate.storage.outputs import OutputEntry, describe_output
from multigate.storage.snapshots import (
    JobChanges,
    SnapshotRecord,
    job_manifest,
    read_heads,
    read_snapshot,
    snapshot_ids,
)

log = logging.getLogger(__name__)

INDEX_FORMAT = "1"
_HEAD_KEY = b"multigate.snapshot_head"
_FORMAT_KEY = b"multigate.index_format"


def index_path(data_dir: Path) -> Path:
    return data_dir / "catalog" / "index.parquet"


def is_data_folder(data_dir: Path) -> bool:
    """A folder some run wrote in (a reader never writes its index into any other: a
    mistyped ``--data-dir /etc`` must leave /etc as it was)."""
    return any((data_dir / name).is_dir() for name in ("ingested", "raw", ".snapshots"))


class OutputIndex:
    """Current outputs (one row each, see ``ENTRY_SCHEMA``) and the last snapshot they
    reflect."""

    def __init__(self, table: pa.Table, head: str) -> None:
        self.table = table
        self.head = head

    @classmethod
    def open(cls, data_dir: Path, *, rebuild: bool = False) -> OutputIndex:
        """Load the stored index and apply newer snapshots; build it when it is missing,
        unreadable or ``rebuild`` is asked. Saves it back when anything changed."""
        ids = snapshot_ids(data_dir)
        index = None if rebuild else _load(index_path(data_dir))
        changed = False
        if index is None:
            index = cls(entries_table(scan_outputs(data_dir)), ids[-1] if ids else "")
            changed = True
        else:
            for snapshot_id in (sid for sid in ids if sid > index.head):
                index.apply_snapshot(data_dir, snapshot_id)
                changed = True
        if changed and is_data_folder(data_dir):
            index.save(data_dir)
        return index

    def apply_snapshot(self, data_dir: Path, snapshot_id: str) -> None:
        record = read_snapshot(data_dir, snapshot_id)
        for key, part in record.jobs.items():
            source, job = key.split("/", 1)
            if part.is_checkpoint:
                self.replace_job(source, job, part.outputs)
            else:
                self.apply_changes(source, job, part)
        self.head = snapshot_id

    def apply_changes(self, source: str, job: str, part: JobChanges) -> None:
        """The job's rows after a delta (the index already holds its base snapshot)."""
        paths = pa.array([*part.removed, *(entry.path for entry in part.outputs)], pa.string())
        theirs = pc.and_(pc.equal(self.table["source"], source), pc.equal(self.table["job"], job))
        gone = pc.and_(theirs, pc.is_in(self.table["path"], value_set=paths))
        kept = self.table.filter(pc.invert(gone))
        self.table = pa.concat_tables([kept, entries_table(part.outputs)])

    def replace_job(self, source: str, job: str, entries: Iterable[OutputEntry]) -> None:
        theirs = pc.and_(pc.equal(self.table["source"], source), pc.equal(self.table["job"], job))
        others = self.table.filter(pc.invert(theirs))
        self.table = pa.concat_tables([others, entries_table(entries)])

    def refresh_job(self, data_dir: Path, source: str, job: str) -> None:
        """Describe one job's folder again (its files changed without a snapshot)."""
        folder = data_dir / "ingested" / source / job
        self.replace_job(source, job, describe_folder(folder, data_dir))
        self.save(data_dir)

    def datasets(self) -> dict[tuple[str, str, str], pa.Table]:
        """Each dataset's rows, by (source, job, part)."""
        keys = ["source", "job", "part"]
        ordered = self.table.take(pc.sort_indices(self.table, [(k, "ascending") for k in keys]))
        columns = [ordered[k].to_pylist() for k in keys]
        found: dict[tuple[str, str, str], pa.Table] = {}
        begin = 0
        triples = list(zip(*columns, strict=True))
        for position in range(1, len(triples) + 1):
            if position == len(triples) or triples[position] != triples[begin]:
                found[triples[begin]] = ordered.slice(begin, position - begin)
                begin = position
        return found

    def save(self, data_dir: Path) -> None:
        """Write the index atomically; a read-only data folder keeps it in memory only."""
        table = self.table.take(pc.sort_indices(self.table, [("path", "ascending")]))
        table = table.replace_schema_metadata(
            {_HEAD_KEY: self.head.encode(), _FORMAT_KEY: INDEX_FORMAT.encode()}
        )
        target = index_path(data_dir)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(target) as tmp:
                pq.write_table(table, tmp, compression="zstd")
        except OSError as exc:
            log.warning("could not save the catalog index %s: %s", target, exc)


def _load(path: Path) -> OutputIndex | None:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException):
        return None
    metadata = table.schema.metadata or {}
    if metadata.get(_FORMAT_KEY) != INDEX_FORMAT.encode():
        return None
    if not table.schema.remove_metadata().equals(ENTRY_SCHEMA):
        return None
    return OutputIndex(table.replace_schema_metadata(None), metadata.get(_HEAD_KEY, b"").decode())


def scan_outputs(data_dir: Path) -> list[OutputEntry]:
    """Every ingested output under ``data_dir``: a job with a snapshot contributes the
    outputs its latest snapshot lists; only the folders of other jobs are walked."""
    heads = read_heads(data_dir)
    records: dict[str, SnapshotRecord] = {}
    found: list[OutputEntry] = []
    root = data_dir / "ingested"
    for source in _subfolders(root):
        for job in _subfolders(root / source):
            head = heads.get(f"{source}/{job}", {}).get("id")
            if head is not None:
                try:
                    manifest = job_manifest(data_dir, head, f"{source}/{job}", records)
                except (OSError, ValueError, KeyError) as exc:
                    log.warning(
                        "snapshot %s unreadable (%s): walking %s/%s", head, exc, source, job
                    )
                else:
                    found.extend(manifest.sorted_entries())
                    continue
            found.extend(describe_folder(root / source / job, data_dir))
    return found


def _subfolders(folder: Path) -> list[str]:
    try:
        return sorted(
            e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")
        )
    except FileNotFoundError:
        return []


def describe_folder(folder: Path, data_dir: Path) -> Iterator[OutputEntry]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        names = set(files)
        for name in sorted(files):
            if not name.endswith(".parquet") or name.startswith("."):
                continue
            if name + SIDECAR_SUFFIX not in names:
                continue
            path = Path(root) / name
            try:
                entry = describe_output(path, data_dir)
            except (OSError, ValueError, pa.ArrowException) as exc:
                log.warning("skipping %s: %s", path, exc)
                continue
            if entry is not None:
                yield entry
