"""Each ingested dataset as a Delta Lake table: one commit per run that changed it.

::

    <data_dir>/ingested/<source>/<job>[/schema=<name>]/     the table's root
        _delta_log/                      the commits (delta-rs writes and reads them)
        <output>.parquet                 the engine's current output (with its sidecar)
        <output>.v-<sha256[:16]>.parquet the same bytes under a name that never changes:
                                         what the log's ``add`` actions point at
        .source.json                     the table's current version and its files

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
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import deltalake
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import DeltaError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from multigate.storage.atomic import publish, temp_name_for
from multigate.storage.delta_files import file_stats, table_schema
from multigate.storage.layout import ingested_root
from multigate.storage.provenance import read_sidecar

# Databento's timestamps are nanoseconds: Delta's ``timestampNanos`` reader feature.
deltalake.enable_nanosecond_timestamps()

log = logging.getLogger(__name__)

TABLE_SIDECAR = ".source.json"
LOG_DIR = "_delta_log"
_PART_KEY = "schema="
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


def new_run_id(now: datetime) -> str:
    """A run's id: its start time in UTC to the microsecond (ids sort by time)."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def is_table(root: Path) -> bool:
    return (root / LOG_DIR).is_dir()


def table_root(output: Path, job_root: Path) -> Path:
    """The table an output belongs to: its job folder, or the ``schema=<name>`` folder under
    it when the job writes several record types."""
    inside = output.relative_to(job_root).parts[:-1]
    for depth, part in enumerate(inside):
        if part.startswith(_PART_KEY):
            return job_root.joinpath(*inside[: depth + 1])
    return job_root


def versioned_name(output: Path, sha256: str) -> str:
    """``VIX.parquet`` with sha256 ``ab12...`` -> ``VIX.v-ab12<14 more>.parquet``."""
    return f"{output.stem}{_VERSION_MARK}{sha256[:16]}{output.suffix}"


def is_versioned_name(name: str) -> bool:
    stem = name.rsplit(".", 1)[0]
    head, mark, digest = stem.rpartition(_VERSION_MARK)
    return bool(head) and bool(mark) and len(digest) == 16


def commit_job(
    data_dir: Path, source: str, job: str, outputs: Sequence[Path], run: RunInfo
) -> list[TableCommit]:
    """Commit the job's current ``outputs`` (published, each with its sidecar) to the tables
    of its datasets: files that are new or changed are added, files of the table's current
    version that are no longer among them are removed. A table whose files did not change
    gets no commit. Returns the commits made."""
    job_root = ingested_root(data_dir, source, job)
    tables: dict[Path, list[Path]] = {}
    for output in sorted(outputs):
        tables.setdefault(table_root(output, job_root), []).append(output)
    commits = []
    for root, files in sorted(tables.items()):
        try:
            made = _commit_table(root, files, source=source, job=job, run=run)
        except (DeltaError, ValueError, KeyError) as exc:
            raise TableCommitError(f"{root}: {exc}") from exc
        if made is not None:
            commits.append(made)
    return commits


def _commit_table(
    root: Path, outputs: Sequence[Path], *, source: str, job: str, run: RunInfo
) -> TableCommit | None:
    wanted: dict[str, tuple[Path, dict[str, Any]]] = {}
    for output in outputs:
        record = read_sidecar(output)
        if record is None or record.get("kind") != "ingested":
            log.warning("%s: no sidecar; left out of the table's commit", output)
            continue
        sha256 = str(record["file"]["sha256"])
        folder = PurePosixPath(output.relative_to(root).parent.as_posix())
        wanted[str(folder / versioned_name(output, sha256)).removeprefix("./")] = (output, record)
    current = _current_files(root)
    added = sorted(set(wanted) - set(current))
    removed = sorted(set(current) - set(wanted))
    if not added and not removed:
        return None
    adds = []
    for name in added:
        output, record = wanted[name]
        physical = root / name
        _link_versioned(output, physical, int(record["file"]["bytes"]))
        stats = file_stats(pq.read_metadata(physical))
        adds.append(
            AddAction(name, physical.stat().st_size, {}, int(time.time() * 1000), True, stats)
        )
    metadata = {
        "run": run.run_id,
        "config_hash": run.config_hash,
        "source": source,
        "job": job,
        "files": {name: _provenance(wanted[name][1], wanted[name][0], root) for name in added},
    }
    schema = table_schema(pq.read_schema(root / added[0])) if added else None
    properties = CommitProperties(custom_metadata={"multigate": metadata})
    if not is_table(root):
        if schema is None:
            return None
        create_table_with_add_actions(
            str(root), deltalake.Schema.from_arrow(schema), adds, commit_properties=properties
        )
    else:
        table = DeltaTable(str(root))
        now_ms = int(time.time() * 1000)
        removes: list[AddAction | RemoveAction] = [
            RemoveAction(name, True, now_ms, current[name], {}) for name in removed
        ]
        columns = pa.schema(table.schema().to_arrow())
        if schema is not None and not _same_columns(schema, columns):
            # a changed layout (a new column, another type): the new version holds only
            # the new files, under the new schema
            table.create_write_transaction(
                [*adds], "overwrite", schema, commit_properties=properties
            )
        else:
            table.create_write_transaction(
                [*adds, *removes], "append", columns, commit_properties=properties
            )
    version = DeltaTable(str(root)).version()
    write_table_sidecar(root, version, source=source, job=job, run=run)
    log.info("%s: version %d (+%d -%d files)", root, version, len(added), len(removed))
    return TableCommit(root, version, tuple(added), tuple(removed))


def _same_columns(new: Any, old: Any) -> bool:
    return [(f.name, str(f.type)) for f in new] == [(f.name, str(f.type)) for f in old]


def _current_files(root: Path) -> dict[str, int]:
    """Path (relative to the table's root) -> size, of the table's current version."""
    if not is_table(root):
        return {}
    actions = _add_actions(DeltaTable(str(root)))
    return dict(zip(actions["path"], actions["size_bytes"], strict=True))


def _add_actions(table: DeltaTable) -> dict[str, list[Any]]:
    return dict(pa.table(table.get_add_actions(flatten=True)).to_pydict())


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
    tmp = temp_name_for(physical)
    try:
        shutil.copyfile(output, tmp)
        publish(tmp, physical)
    finally:
        tmp.unlink(missing_ok=True)


def _provenance(record: Mapping[str, Any], output: Path, root: Path) -> dict[str, Any]:
    """What a commit keeps of an added file's sidecar: where it came from and how it was
    made (inputs with sha256, vendor query, tool versions, quality)."""
    kept = {key: record[key] for key in _PROVENANCE_KEYS if record.get(key) not in (None, {}, [])}
    kept["output"] = output.relative_to(root).as_posix()
    return kept


def write_table_sidecar(root: Path, version: int, *, source: str, job: str, run: RunInfo) -> None:
    """``<table>/.source.json``: the version the table is at and its files, for a reader
    that does not open the log (and for people)."""
    actions = _add_actions(DeltaTable(str(root)))
    record = {
        "format_version": 1,
        "kind": "table",
        "source": source,
        "job": job,
        "version": version,
        "run": run.run_id,
        "config_hash": run.config_hash,
        "files": [
            {"path": path, "bytes": size, "rows": rows}
            for path, size, rows in zip(
                actions["path"], actions["size_bytes"], actions["num_records"], strict=True
            )
        ],
        "updated_at": datetime.now(UTC).isoformat(),
    }
    target = root / TABLE_SIDECAR
    tmp = temp_name_for(target)
    try:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        publish(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
