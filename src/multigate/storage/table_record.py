"""``<table>/.source.json``: the version a dataset's Delta table is at, the run that made
it, and one catalog entry per current file (rows, symbols, time range, quality flags).

Readers open a lake from these records without reading any Parquet footer or log commit;
a record whose version is not the log's latest (a run stopped between its commit and the
record, or a commit by another writer) is not trusted: the catalog then describes that
table from its log and files.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

from multigate.storage.atomic import publish, temp_name_for
from multigate.storage.outputs import OutputEntry

log = logging.getLogger(__name__)

TABLE_SIDECAR = ".source.json"
LOG_DIR = "_delta_log"
RECORD_FORMAT = 2
_COMMIT_NAME = re.compile(r"(\d{20})\.json")


@dataclass(frozen=True)
class TableRecord:
    """What a table's ``.source.json`` says."""

    source: str
    job: str
    version: int
    run: str
    config_hash: str
    entries: tuple[OutputEntry, ...]
    pruned: frozenset[int] = frozenset()
    """Versions ``snapshots prune`` removed (their files may be gone)."""

    def with_pruned(self, versions: frozenset[int]) -> TableRecord:
        return replace(self, pruned=self.pruned | versions)

    def to_json(self) -> str:
        record = {
            "format_version": RECORD_FORMAT,
            "kind": "table",
            "source": self.source,
            "job": self.job,
            "version": self.version,
            "pruned": sorted(self.pruned),
            "run": self.run,
            "config_hash": self.config_hash,
            "files": [entry.to_dict() for entry in self.entries],
        }
        return json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"


def latest_version(root: Path) -> int | None:
    """The newest commit in ``root``'s log, from its file names (no commit is read)."""
    try:
        names = [
            match.group(1)
            for p in (root / LOG_DIR).iterdir()
            if (match := _COMMIT_NAME.fullmatch(p.name))
        ]
    except (FileNotFoundError, NotADirectoryError):
        return None
    return int(max(names)) if names else None


def read_table_record(root: Path) -> TableRecord | None:
    """The table's record, or None when it is missing, unreadable or not in our shape."""
    try:
        record = json.loads((root / TABLE_SIDECAR).read_text(encoding="utf-8"))
        if record.get("format_version") != RECORD_FORMAT or record.get("kind") != "table":
            return None
        return TableRecord(
            source=str(record["source"]),
            job=str(record["job"]),
            version=int(record["version"]),
            run=str(record["run"]),
            config_hash=str(record["config_hash"]),
            entries=tuple(OutputEntry.from_dict(item) for item in record["files"]),
            pruned=frozenset(int(version) for version in record.get("pruned") or ()),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring %s: %s", root / TABLE_SIDECAR, exc)
        return None


def write_table_record(root: Path, record: TableRecord) -> None:
    """Replace the table's record atomically."""
    target = root / TABLE_SIDECAR
    tmp = temp_name_for(target)
    try:
        tmp.write_text(record.to_json(), encoding="utf-8")
        publish(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
