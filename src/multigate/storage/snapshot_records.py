"""Snapshot records on disk, and the manifest a job held at any recorded snapshot.

A record (``<data_dir>/.snapshots/runs/<id>.json``) holds, per job the run changed, either a
*checkpoint* (the job's whole manifest: every output's path, sha256, rows, symbols and time
range) or a *delta* against the job's previous snapshot (``base``): the outputs added or
replaced, and the paths removed. So a run costs in proportion to what it changed; a job's
manifest at a snapshot is its latest checkpoint with the deltas after it applied in order.

Format 2::

    {"format": 2, "id": ..., "created_at": ..., "config_hash": ..., "datasets": [...],
     "jobs": {"<source>/<job>": {"base": null | "<id>", "outputs": [entry, ...],
                                 "removed": [path, ...], "sigs": {path: [int x 8]}}}}

``sigs`` are the stat signatures (see ``snapshot_signatures``) a later run compares to
skip reading unchanged outputs' sidecars. Records written before deltas (format 1: ``jobs``
maps each job to its list of entries) are read as checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from multigate.storage.outputs import OutputEntry
from multigate.storage.snapshot_signatures import Signature

STORE_NAME = ".snapshots"
RECORD_FORMAT = 2


class SnapshotChainBroken(ValueError):
    """A delta's base record is missing: the manifest it describes cannot be rebuilt."""


class SnapshotRecordUnreadable(SnapshotChainBroken):
    """A snapshot record that is not valid JSON of the expected shape (edited, damaged)."""


@dataclass(frozen=True)
class JobChanges:
    """One job's part of a record: a checkpoint (``base`` None: ``outputs`` is every
    output) or a delta on snapshot ``base`` (outputs added or replaced, paths removed)."""

    base: str | None
    outputs: Sequence[OutputEntry]
    removed: Sequence[str] = ()
    signatures: Mapping[str, Signature] = field(default_factory=dict)

    @property
    def is_checkpoint(self) -> bool:
        return self.base is None

    @property
    def size(self) -> int:
        """How many items the part stores (what the checkpoint policy weighs)."""
        return len(self.outputs) + len(self.removed) + len(self.signatures)

    def to_dict(self) -> dict[str, object]:
        return {
            "base": self.base,
            "outputs": [entry.to_dict() for entry in self.outputs],
            "removed": list(self.removed),
            "sigs": {path: list(sig) for path, sig in sorted(self.signatures.items())},
        }

    @classmethod
    def from_json(cls, value: object) -> JobChanges:
        if isinstance(value, list):  # format 1: the job's whole manifest
            return cls(base=None, outputs=tuple(OutputEntry.from_dict(e) for e in value))
        if not isinstance(value, dict):
            raise ValueError(f"bad job record {type(value).__name__}")
        base = value.get("base")
        return cls(
            base=None if base is None else str(base),
            outputs=tuple(OutputEntry.from_dict(entry) for entry in value.get("outputs", ())),
            removed=tuple(str(path) for path in value.get("removed", ())),
            signatures={
                str(path): tuple(int(n) for n in sig)
                for path, sig in (value.get("sigs") or {}).items()
            },
        )


@dataclass(frozen=True)
class SnapshotRecord:
    """One run's snapshot: when, with which job configs, and what changed per job."""

    id: str
    created_at: datetime
    config_hash: str
    jobs: Mapping[str, JobChanges] = field(default_factory=dict)
    """``"<source>/<job>"`` -> its checkpoint or delta (jobs the run did not change are
    absent)."""
    datasets: Sequence[str] = ()
    """Datasets whose outputs this run changed."""

    def to_json(self) -> str:
        record = {
            "format": RECORD_FORMAT,
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "config_hash": self.config_hash,
            "datasets": list(self.datasets),
            "jobs": {job: part.to_dict() for job, part in sorted(self.jobs.items())},
        }
        return json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SnapshotRecord:
        record = json.loads(text)
        if int(record.get("format", 1)) > RECORD_FORMAT:
            raise ValueError(f"snapshot record format {record['format']} is newer than this")
        return cls(
            id=record["id"],
            created_at=datetime.fromisoformat(record["created_at"]),
            config_hash=record["config_hash"],
            datasets=tuple(record["datasets"]),
            jobs={job: JobChanges.from_json(part) for job, part in record["jobs"].items()},
        )


def store_root(data_dir: Path) -> Path:
    return data_dir / STORE_NAME


def runs_dir(data_dir: Path) -> Path:
    return store_root(data_dir) / "runs"


def object_path(data_dir: Path, sha256: str) -> Path:
    return store_root(data_dir) / "objects" / f"{sha256}.parquet"


def record_path(data_dir: Path, snapshot_id: str) -> Path:
    return runs_dir(data_dir) / f"{snapshot_id}.json"


def read_snapshot(data_dir: Path, snapshot_id: str) -> SnapshotRecord:
    """The record as stored (checkpoints and deltas; see ``job_manifest``); a damaged one
    raises SnapshotRecordUnreadable naming its file."""
    path = record_path(data_dir, snapshot_id)
    text = path.read_text()
    try:
        return SnapshotRecord.from_json(text)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SnapshotRecordUnreadable(
            f"{path}: snapshot record unreadable ({type(exc).__name__}: {exc}); restore it "
            "from a backup, or move it aside to read without that snapshot"
        ) from exc


@dataclass
class Manifest:
    """A job's outputs at one snapshot, by path, with how far it is from a checkpoint."""

    entries: dict[str, OutputEntry]
    signatures: dict[str, Signature]
    deltas: int = 0
    """Delta records applied on the checkpoint to get here."""
    delta_size: int = 0
    """Items those deltas store (``JobChanges.size`` summed)."""

    def sorted_entries(self) -> list[OutputEntry]:
        return [self.entries[path] for path in sorted(self.entries)]


def job_manifest(
    data_dir: Path,
    snapshot_id: str,
    job: str,
    records: dict[str, SnapshotRecord] | None = None,
) -> Manifest:
    """What ``job`` (``"<source>/<job>"``) held at ``snapshot_id`` (a record that has the
    job): its latest checkpoint at or before it with the later deltas applied. ``records``
    caches records already read."""
    cache = {} if records is None else records
    chain: list[JobChanges] = []
    current: str | None = snapshot_id
    while current is not None:
        try:
            record = cache.get(current) or read_snapshot(data_dir, current)
        except FileNotFoundError as exc:
            raise SnapshotChainBroken(
                f"snapshot {snapshot_id} of {job}: its base {current} is missing"
            ) from exc
        cache[current] = record
        part = record.jobs.get(job)
        if part is None:
            raise SnapshotChainBroken(f"snapshot {current} holds nothing of {job}")
        chain.append(part)
        current = part.base
        if len(chain) > 1_000_000:
            raise SnapshotChainBroken(f"snapshot {snapshot_id} of {job}: its bases loop")
    checkpoint = chain.pop()
    manifest = Manifest(
        entries={entry.path: entry for entry in checkpoint.outputs},
        signatures=dict(checkpoint.signatures),
    )
    for part in reversed(chain):
        apply_changes(manifest, part)
    return manifest


def apply_changes(manifest: Manifest, part: JobChanges) -> None:
    """``manifest`` after the delta ``part``."""
    for path in part.removed:
        manifest.entries.pop(path, None)
        manifest.signatures.pop(path, None)
    for entry in part.outputs:
        manifest.entries[entry.path] = entry
        manifest.signatures.pop(entry.path, None)
    manifest.signatures.update(part.signatures)
    manifest.deltas += 1
    manifest.delta_size += part.size
