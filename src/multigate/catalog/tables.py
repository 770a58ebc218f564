"""A dataset's Delta table as the catalog reads it: its current files (from its record, or
described from its log when the record is stale), its history of runs, and its files at a
past version."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from multigate.catalog.errors import CatalogError, DamagedTable
from multigate.storage.entries import entries_table, table_entries
from multigate.storage.outputs import FileFacts, OutputEntry, describe_parquet, flagged_checks
from multigate.storage.table_paths import DatasetKey
from multigate.storage.table_record import latest_version, read_table_record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Table:
    """One dataset's table and its files at its newest version."""

    key: DatasetKey
    root: Path
    version: int
    files: pa.Table
    """One entry a row (``storage.entries.ENTRY_SCHEMA``, maybe with more columns)."""
    pruned: frozenset[int]
    """Versions ``snapshots prune`` removed."""
    run: str
    """The run that made this version."""

    @property
    def entries(self) -> list[OutputEntry]:
        return table_entries(self.files)


@dataclass(frozen=True)
class Commit:
    """One version of a table as its log records it."""

    version: int
    run: str
    config_hash: str
    created_at: datetime
    files: dict[str, dict[str, Any]]
    """Provenance of each file the commit added, by path inside the table."""


def open_table(data_dir: Path, key: DatasetKey, root: Path, *, trust_record: bool = True) -> Table:
    """The table's current files: from its record when that describes the newest version
    (and ``trust_record``), else described from the log and the files' footers."""
    newest = latest_version(root)
    record = read_table_record(root)
    if trust_record and record is not None and record.version == newest:
        return Table(key, root, record.version, record.entries, record.pruned, record.run)
    from deltalake import DeltaTable

    try:
        table = DeltaTable(str(root))
    except Exception as exc:  # delta-rs's own errors: a log it cannot read
        raise DamagedTable(f"{root}: not a readable Delta table ({exc})") from exc
    pruned = record.pruned if record is not None else frozenset()
    commits = history(root)
    entries = describe_version(data_dir, key, table, commits)
    run = commits[-1].run if commits else ""
    return Table(key, root, table.version(), entries_table(entries), pruned, run)


def history(root: Path) -> list[Commit]:
    """The table's commits, oldest first."""
    from deltalake import DeltaTable

    commits = []
    try:
        infos = DeltaTable(str(root)).history()
    except Exception as exc:  # delta-rs's own errors: a commit it cannot read
        raise DamagedTable(f"{root}: its Delta log cannot be read ({exc})") from exc
    for info in infos:
        ours = info.get("multigate") or {}
        moment = datetime.fromtimestamp(int(info.get("timestamp", 0)) / 1000, UTC)
        commits.append(
            Commit(
                version=int(info["version"]),
                run=str(ours.get("run", "")),
                config_hash=str(ours.get("config_hash", "")),
                created_at=moment,
                files=dict(ours.get("files") or {}),
            )
        )
    return sorted(commits, key=lambda commit: commit.version)


def version_entries(data_dir: Path, table: Table, version: int) -> list[OutputEntry]:
    """The table's files as they were at ``version``."""
    if version == table.version:
        return table.entries
    if version in table.pruned:
        raise CatalogError(f"version {version} of {table.root} was pruned")
    from deltalake import DeltaTable

    try:
        past = DeltaTable(str(table.root), version=version)
    except Exception as exc:  # delta-rs raises its own errors for a missing version
        raise DamagedTable(f"{table.root}: version {version} cannot be read ({exc})") from exc
    return describe_version(data_dir, table.key, past, history(table.root))


def describe_version(
    data_dir: Path, key: DatasetKey, table: Any, commits: list[Commit]
) -> list[OutputEntry]:
    """Entries of a loaded table version, from its add actions, the files' footers and the
    symbols each file's commit recorded (read from the file when none was)."""
    root = Path(table.table_uri.removeprefix("file://"))
    actions = pa.table(table.get_add_actions(flatten=True)).to_pydict()
    provenance = {name: item for commit in commits for name, item in commit.files.items()}
    entries = []
    for name in sorted(actions["path"]):
        path = root / name
        relative = path.relative_to(data_dir).as_posix()
        try:
            metadata = pq.read_metadata(path)
        except OSError as exc:
            raise DamagedTable(f"{relative}: not readable ({exc}); was it pruned?") from exc
        known = provenance.get(name, {})
        symbols = known.get("symbols")
        if symbols is None:
            symbols = _symbols_in(path, metadata)
        facts = FileFacts(
            path=relative,
            source=key[0],
            job=key[1],
            part=key[2],
            sha256=str((known.get("file") or {}).get("sha256", "")),
            bytes=path.stat().st_size,
            symbols=tuple(str(symbol) for symbol in symbols),
            flagged=flagged_checks(known.get("quality")),
        )
        entries.append(describe_parquet(metadata, facts))
    return entries


def _symbols_in(path: Path, metadata: pq.FileMetaData) -> list[str]:
    if "symbol" not in metadata.schema.names:
        return []
    column = pq.read_table(path, columns=["symbol"])["symbol"]
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return sorted(str(s) for s in pc.unique(column).to_pylist() if s is not None)
