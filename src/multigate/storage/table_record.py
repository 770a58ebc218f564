"""A dataset table's record: the version its Delta log is at, the run that made it, and one
catalog entry per current file (rows, symbols, time range, quality flags).

::

    <table>/.source.json       the version, run, config hash, pruned versions, totals
    <table>/.entries.arrow     one row per current file (Arrow IPC) (``ENTRY_SCHEMA`` plus where the
                               engine's output is and its stat signature)

Readers open a lake from these without reading a Parquet footer or a log commit: 20,000
entries load as one Arrow table. A record whose version is not the log's latest (a run
stopped between its commit and its record, or a commit by another writer) is not trusted:
the catalog then describes that table from its log and files. The next commit reuses the
entry of every output whose file still has its recorded (inode, size, mtime), so a run
reads the sidecars of the outputs it changed, not of all of them.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather

from multigate.storage.atomic import write_bytes_atomic
from multigate.storage.entries import ENTRY_SCHEMA

log = logging.getLogger(__name__)

TABLE_SIDECAR = ".source.json"
ENTRIES_NAME = ".entries.arrow"
LOG_DIR = "_delta_log"
RECORD_FORMAT = 3
_COMMIT_NAME = re.compile(r"(\d{20})\.json")
_VERSION_KEY = b"multigate.table_version"

SIGNATURE_FIELDS = [
    pa.field("output", pa.string()),
    pa.field("ino", pa.int64()),
    pa.field("size", pa.int64()),
    pa.field("mtime_ns", pa.int64()),
]
RECORD_SCHEMA = pa.schema([*ENTRY_SCHEMA, *SIGNATURE_FIELDS])
"""An entry, then the engine output it was linked from (relative to the data folder) and
that output's stat signature when it was committed."""


@dataclass(frozen=True)
class TableRecord:
    """What a table's record says; ``entries`` has ``RECORD_SCHEMA``."""

    source: str
    job: str
    version: int
    run: str
    config_hash: str
    entries: pa.Table
    pruned: frozenset[int] = frozenset()
    """Versions ``snapshots prune`` removed (their files may be gone)."""

    def with_pruned(self, versions: frozenset[int]) -> TableRecord:
        return replace(self, pruned=self.pruned | versions)

    def summary(self) -> dict[str, object]:
        entries = self.entries
        return {
            "format_version": RECORD_FORMAT,
            "kind": "table",
            "source": self.source,
            "job": self.job,
            "version": self.version,
            "pruned": sorted(self.pruned),
            "run": self.run,
            "config_hash": self.config_hash,
            "files": entries.num_rows,
            "rows": int(pc.sum(entries["rows"]).as_py() or 0),
            "bytes": int(pc.sum(entries["bytes"]).as_py() or 0),
            "entries": ENTRIES_NAME,
        }


def latest_version(root: Path) -> int | None:
    """The newest commit in ``root``'s log, from its file names (no commit is read)."""
    try:
        names = [
            match.group(1)
            for path in (root / LOG_DIR).iterdir()
            if (match := _COMMIT_NAME.fullmatch(path.name))
        ]
    except (FileNotFoundError, NotADirectoryError):
        return None
    return int(max(names)) if names else None


def read_table_record(root: Path) -> TableRecord | None:
    """The table's record, or None when it is missing, unreadable, not in our shape, or its
    two files disagree on the version."""
    try:
        record = json.loads((root / TABLE_SIDECAR).read_text(encoding="utf-8"))
        if record.get("format_version") != RECORD_FORMAT or record.get("kind") != "table":
            return None
        entries = feather.read_table(root / ENTRIES_NAME)
        version = int(record["version"])
        if (entries.schema.metadata or {}).get(_VERSION_KEY) != str(version).encode():
            return None  # the halves of two versions (a run stopped between the two)
        entries = entries.cast(RECORD_SCHEMA)
        return TableRecord(
            source=str(record["source"]),
            job=str(record["job"]),
            version=version,
            run=str(record["run"]),
            config_hash=str(record["config_hash"]),
            entries=entries.replace_schema_metadata(None),
            pruned=frozenset(int(item) for item in record.get("pruned") or ()),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pa.ArrowException) as exc:
        log.warning("ignoring the record of %s: %s", root, exc)
        return None


def write_table_record(root: Path, record: TableRecord) -> None:
    """Replace the table's record atomically: its entries first, then ``.source.json``
    (both name the version, so a reader never pairs two versions' halves)."""
    metadata = {_VERSION_KEY: str(record.version).encode()}
    entries = record.entries.cast(RECORD_SCHEMA).replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    feather.write_feather(entries, sink)
    write_bytes_atomic(root / ENTRIES_NAME, sink.getvalue().to_pybytes())
    text = json.dumps(record.summary(), sort_keys=True, indent=2) + "\n"
    write_bytes_atomic(root / TABLE_SIDECAR, text.encode())
