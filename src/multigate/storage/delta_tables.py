"""Each ingested dataset as a Delta Lake table: one commit per run that changed it.

::

    <data_dir>/ingested/<source>/<job>[/schema=<name>]/     the table's root
        _delta_log/                      the commits (delta-rs writes and reads them)
        <output>.parquet                 the engine's current output (with its sidecar)
        <output>.v-<sha256[:16]>.parquet the same bytes under a name that never changes:
                                         what the log's ``add`` actions point at
        .source.json, .entries.arrow     the table's record (``table_record``)

Outputs are replaced by atomic renames, so a content-named hard link keeps the bytes of
every version the log still references: any Delta reader (deltalake, polars through pyarrow,
DuckDB, Spark) time-travels without Multigate, and ``vacuum`` deletes removed versions once
they are older than the retention a user sets. A commit carries, under ``multigate``, the
run id, the job's config hash and each added file's provenance (its sidecar).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import deltalake
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import DeltaError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from multigate.storage.atomic import atomic_path
from multigate.storage.delta_files import file_stats, table_schema
from multigate.storage.layout import ingested_root
from multigate.storage.outputs import (
    describe_output,
    describe_parquet,
    sidecar_facts,
)
from multigate.storage.provenance import read_sidecar
from multigate.storage.publish import job_outputs
from multigate.storage.table_paths import job_tables, table_root, untabled_jobs
from multigate.storage.table_record import (
    RECORD_SCHEMA,
    TableRecord,
    latest_version,
    read_table_record,
    write_table_record,
)

# Databento's timestamps are nanoseconds: Delta's ``timestampNanos`` reader feature.
deltalake.enable_nanosecond_timestamps()

log = logging.getLogger(__name__)

_VERSION_MARK = ".v-"
_PROVENANCE_KEYS = (
    *("file", "fingerprint", "inputs", "query", "vendor", "tools", "mode", "created_at"),
    *("rows", "first_ts", "last_ts", "symbols", "quality"),
)


class TableCommitError(Exception):
    """A dataset's commit failed (its outputs stay in place; the next run commits them)."""


@dataclass(frozen=True)
class RunInfo:
    """What a run's commits say about the run."""

    run_id: str
    config: Mapping[str, Any]

    @property
    def config_hash(self) -> str:
        text = json.dumps(self.config, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class TableCommit:
    """One dataset's commit: its table root, the new version, what was added and removed."""

    root: Path
    version: int
    added: tuple[str, ...]
    removed: tuple[str, ...]


_RUN_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"
_RUN_ID = re.compile(r"\d{8}T\d{12}Z")


def new_run_id(now: datetime) -> str:
    """A run's id: its start time in UTC to the microsecond (ids sort by time)."""
    return now.astimezone(UTC).strftime(_RUN_ID_FORMAT)


def is_run_id(text: str) -> bool:
    return _RUN_ID.fullmatch(text) is not None


def versioned_name(output: Path, sha256: str) -> str:
    """``VIX.parquet`` with sha256 ``ab12...`` -> ``VIX.v-ab12<14 more>.parquet``."""
    return f"{output.stem}{_VERSION_MARK}{sha256[:16]}{output.suffix}"


def versioned_source(path: str) -> str:
    """The engine output a content-named file was linked from (its path with the
    ``.v-<sha256[:16]>`` mark taken out); other paths are returned as they are."""
    folder, _, name = path.rpartition("/")
    if not is_versioned_name(name):
        return path
    stem, suffix = name.rsplit(".", 1)
    original = f"{stem.rpartition(_VERSION_MARK)[0]}.{suffix}"
    return f"{folder}/{original}" if folder else original


def is_versioned_name(name: str) -> bool:
    return versioned_digest(name) is not None


def versioned_digest(name: str) -> str | None:
    """The start of the sha256 a content-named file's name holds (None for other names)."""
    stem = name.rsplit(".", 1)[0]
    head, mark, digest = stem.rpartition(_VERSION_MARK)
    return digest if head and mark and len(digest) == 16 else None


def commit_job(
    data_dir: Path, source: str, job: str, outputs: Sequence[Path], run: RunInfo
) -> list[TableCommit]:
    """Commit the job's current ``outputs`` (published, each with its sidecar) to the tables
    of its datasets: files that are new or changed are added, files of the table's current
    version that are no longer among them are removed. A table whose files did not change
    gets no commit; a table of the job that none of ``outputs`` belongs to any more gets a
    commit removing its files. Returns the commits made."""
    job_root = ingested_root(data_dir, source, job)
    tables: dict[Path, list[Path]] = {root: [] for root in job_tables(job_root)}
    for output in sorted(outputs):
        tables.setdefault(table_root(output, job_root), []).append(output)
    commits = []
    for root, files in sorted(tables.items()):
        try:
            made = _commit_table(root, files, data_dir=data_dir, source=source, job=job, run=run)
        except (DeltaError, ValueError, KeyError) as exc:
            raise TableCommitError(f"{root}: {exc}") from exc
        if made is not None:
            commits.append(made)
    return commits


def _commit_table(
    root: Path, outputs: Sequence[Path], *, data_dir: Path, source: str, job: str, run: RunInfo
) -> TableCommit | None:
    recorded = read_table_record(root)
    pruned = recorded.pruned if recorded is not None else frozenset()
    newest = latest_version(root)
    previous = recorded if recorded and recorded.version == newest else None
    files = _table_files(root, data_dir, outputs, previous)
    # the table's log is loaded only when its record cannot say what it holds, or to commit
    table = DeltaTable(str(root)) if newest is not None and previous is None else None
    current = _recorded_files(root, data_dir, previous) if previous else _current_files(table)
    added = sorted(set(files) - set(current))
    removed = sorted(set(current) - set(files))
    if (added or removed) and table is None and newest is not None:
        table = DeltaTable(str(root))
    overwrite = bool(added) and table is not None and _columns_changed(table, files[added[0]])
    if overwrite:  # another layout (a new column, a type): the new version is all new files
        added, removed = sorted(files), []
    if not added and not removed:
        if previous is None and current:  # stopped between a commit and its record
            _write_record(root, data_dir, files, pruned, source, job, run)
        return None
    adds = []
    for name in added:
        item = files[name]
        sidecar = item.sidecar or read_sidecar(item.output) or {}
        physical = root / name
        _link_versioned(item.output, physical, int(sidecar["file"]["bytes"]))
        footer = pq.read_metadata(physical)
        relative = PurePosixPath(physical.relative_to(data_dir).as_posix())
        entry = describe_parquet(footer, sidecar_facts(sidecar, relative))
        item.row = {**entry.to_dict(), **item.signature}
        stats = file_stats(footer)
        adds.append(AddAction(name, entry.bytes, {}, int(time.time() * 1000), True, stats))
        item.sidecar = sidecar
    metadata = {
        "run": run.run_id,
        "config_hash": run.config_hash,
        "source": source,
        "job": job,
        "files": {
            name: _provenance(files[name].sidecar or {}, files[name].output, root) for name in added
        },
    }
    properties = CommitProperties(custom_metadata={"multigate": metadata})
    removes = [(name, current[name]) for name in removed]
    _write_commit(root, table, adds, removes, properties, overwrite)
    version = _write_record(root, data_dir, files, pruned, source, job, run)
    log.info("%s: version %d (+%d -%d files)", root, version, len(added), len(removed))
    return TableCommit(root, version, tuple(added), tuple(removed))


@dataclass
class _TableFile:
    """One output as a file of the table: the engine's output, its sidecar (None when its
    recorded entry was reused), its stat signature, and its record row once known."""

    output: Path
    sidecar: dict[str, Any] | None
    signature: dict[str, Any]
    row: dict[str, Any] | None = None


def _table_files(
    root: Path, data_dir: Path, outputs: Sequence[Path], previous: TableRecord | None
) -> dict[str, _TableFile]:
    """The table's files for ``outputs``, by content-named path inside the table. An output
    whose (inode, size, mtime) are those recorded keeps its entry unread: only outputs
    that changed have their sidecars read."""
    known: dict[str, dict[str, Any]] = {}
    if previous is not None:
        known = {row["output"]: row for row in previous.entries.to_pylist()}
    prefix = root.relative_to(data_dir).as_posix() + "/"
    files: dict[str, _TableFile] = {}
    for output in outputs:
        relative = output.relative_to(data_dir).as_posix()
        try:
            stat = output.stat()
        except FileNotFoundError:
            log.warning("%s: gone before its table's commit; left out", output)
            continue
        signature = {
            "output": relative,
            "ino": stat.st_ino,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        prior = known.get(relative)
        if prior is not None and all(prior[key] == value for key, value in signature.items()):
            name = str(prior["path"]).removeprefix(prefix)
            files[name] = _TableFile(output, None, signature, prior)
            continue
        sidecar = read_sidecar(output)
        if sidecar is None or sidecar.get("kind") != "ingested":
            log.warning("%s: no sidecar; left out of the table's commit", output)
            continue
        folder = PurePosixPath(output.relative_to(root).parent.as_posix())
        name = str(folder / versioned_name(output, str(sidecar["file"]["sha256"])))
        files[name.removeprefix("./")] = _TableFile(output, sidecar, signature)
    return files


def _write_commit(
    root: Path,
    table: DeltaTable | None,
    adds: list[AddAction],
    removed: list[tuple[str, int]],
    properties: CommitProperties,
    overwrite: bool,
) -> None:
    """One commit adding ``adds`` and removing ``removed`` (path, size); a first commit
    creates the table (``table`` None), an ``overwrite`` replaces every file and the
    schema."""
    if table is None:
        schema = table_schema(pq.read_schema(root / adds[0].path))
        create_table_with_add_actions(
            str(root), deltalake.Schema.from_arrow(schema), adds, commit_properties=properties
        )
        return
    if overwrite:
        schema = table_schema(pq.read_schema(root / adds[0].path))
        table.create_write_transaction([*adds], "overwrite", schema, commit_properties=properties)
        return
    now_ms = int(time.time() * 1000)
    removes = [RemoveAction(name, True, now_ms, size, {}) for name, size in removed]
    columns = pa.schema(table.schema().to_arrow())
    table.create_write_transaction(
        [*adds, *removes], "append", columns, commit_properties=properties
    )


def _columns_changed(table: DeltaTable, item: _TableFile) -> bool:
    """Whether the output's columns read as another schema than the table's."""
    new = table_schema(pq.read_schema(item.output))
    old = pa.schema(table.schema().to_arrow())
    return [(f.name, str(f.type)) for f in new] != [(f.name, str(f.type)) for f in old]


def _write_record(
    root: Path,
    data_dir: Path,
    files: Mapping[str, _TableFile],
    pruned: frozenset[int],
    source: str,
    job: str,
    run: RunInfo,
) -> int:
    """Write the table's record for its newest version (a file without a row yet is
    described from its output); returns that version."""
    version = latest_version(root)
    if version is None:
        raise ValueError("no commit in its log")
    rows = []
    for name, item in sorted(files.items()):
        if item.row is None:
            described = describe_output(item.output, data_dir)
            if described is None:
                continue
            physical = (root / name).relative_to(data_dir).as_posix()
            item.row = {**replace(described, path=physical).to_dict(), **item.signature}
        rows.append(item.row)
    entries = pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)
    record = TableRecord(source, job, version, run.run_id, run.config_hash, entries, pruned)
    write_table_record(root, record)
    return version


def _current_files(table: DeltaTable | None) -> dict[str, int]:
    """Path (relative to the table's root) -> size, of the table's current version."""
    if table is None:
        return {}
    actions = pa.table(table.get_add_actions(flatten=True))
    return dict(zip(actions["path"].to_pylist(), actions["size_bytes"].to_pylist(), strict=True))


def _recorded_files(root: Path, data_dir: Path, record: TableRecord) -> dict[str, int]:
    """The same, from a record that describes the table's newest version."""
    prefix = root.relative_to(data_dir).as_posix() + "/"
    paths = [str(path).removeprefix(prefix) for path in record.entries["path"].to_pylist()]
    return dict(zip(paths, record.entries["bytes"].to_pylist(), strict=True))


def _link_versioned(output: Path, physical: Path, size: int) -> None:
    """Give ``output``'s bytes their content-named path: a hard link (no bytes copied),
    or an atomic copy where the filesystem has none. An existing file of the right size is
    the same bytes (its name holds their sha256)."""
    with contextlib.suppress(FileNotFoundError):
        if physical.stat().st_size == size:
            return
        physical.unlink()
    try:
        os.link(output, physical)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
    with atomic_path(physical) as tmp:
        shutil.copyfile(output, tmp)


def _provenance(record: Mapping[str, Any], output: Path, root: Path) -> dict[str, Any]:
    """What a commit keeps of an added file's sidecar: where it came from and how it was
    made (inputs with sha256, vendor query, tool versions, quality)."""
    kept = {key: record[key] for key in _PROVENANCE_KEYS if record.get(key) not in (None, {}, [])}
    kept["output"] = output.relative_to(root).as_posix()
    return kept


def adopt_untabled(data_dir: Path, run: RunInfo) -> list[TableCommit]:
    """Make tables for the jobs whose outputs were written before datasets were Delta
    tables: their current outputs become each table's first version (nothing is moved or
    rewritten; their history starts here). Call under the run lock."""
    commits = []
    for name in untabled_jobs(data_dir):
        source, job = name.split("/", 1)
        outputs = job_outputs(ingested_root(data_dir, source, job), source=source, job=job)
        commits.extend(commit_job(data_dir, source, job, outputs, run))
        log.info("%s: made its Delta table from %d existing output(s)", name, len(outputs))
    return commits
