"""Snapshots: what every dataset held after each run, and the bytes to read it again.

::

    <data_dir>/.snapshots/runs/<id>.json        one record per run that changed a dataset
    <data_dir>/.snapshots/heads.json            job -> its latest record and manifest digest
    <data_dir>/.snapshots/objects/<sha256>.parquet
                                                bytes of outputs a later run replaced or pruned

A record holds, per job it changed, the job's whole manifest (every output's path, sha256,
rows, symbols and time range). Current outputs stay where they are; only just before an
output is replaced or pruned are its bytes kept, content-addressed, in ``objects/`` (a hard
link when the filesystem allows, a copy otherwise). The store sits outside ``ingested/``,
so plain Parquet readers still see only current data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from multigate.storage.atomic import temp_name_for, write_bytes_atomic
from multigate.storage.layout import data_dir_of
from multigate.storage.outputs import OutputEntry, describe_output
from multigate.storage.provenance import read_sidecar, sha256_of

log = logging.getLogger(__name__)

STORE_NAME = ".snapshots"
_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"
_ID_PATTERN = re.compile(r"\d{8}T\d{12}Z")


def store_root(data_dir: Path) -> Path:
    return data_dir / STORE_NAME


def runs_dir(data_dir: Path) -> Path:
    return store_root(data_dir) / "runs"


def object_path(data_dir: Path, sha256: str) -> Path:
    return store_root(data_dir) / "objects" / f"{sha256}.parquet"


def _heads_path(data_dir: Path) -> Path:
    return store_root(data_dir) / "heads.json"


@dataclass(frozen=True)
class SnapshotRecord:
    """One run's snapshot: when, with which job configs, and each changed job's outputs."""

    id: str
    created_at: datetime
    config_hash: str
    jobs: Mapping[str, Sequence[OutputEntry]] = field(default_factory=dict)
    """``"<source>/<job>"`` -> every output the job held after the run."""
    datasets: Sequence[str] = ()
    """Datasets whose outputs this run changed."""

    def to_json(self) -> str:
        record = {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "config_hash": self.config_hash,
            "datasets": list(self.datasets),
            "jobs": {
                job: [entry.to_dict() for entry in entries] for job, entries in self.jobs.items()
            },
        }
        return json.dumps(record, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SnapshotRecord:
        record = json.loads(text)
        return cls(
            id=record["id"],
            created_at=datetime.fromisoformat(record["created_at"]),
            config_hash=record["config_hash"],
            datasets=tuple(record["datasets"]),
            jobs={
                job: tuple(OutputEntry.from_dict(entry) for entry in entries)
                for job, entries in record["jobs"].items()
            },
        )


def snapshot_ids(data_dir: Path) -> list[str]:
    """Every recorded snapshot id, oldest first (ids sort by time)."""
    try:
        names = os.listdir(runs_dir(data_dir))
    except FileNotFoundError:
        return []
    return sorted(
        name[:-5] for name in names if name.endswith(".json") and not name.startswith(".")
    )


def read_snapshot(data_dir: Path, snapshot_id: str) -> SnapshotRecord:
    return SnapshotRecord.from_json((runs_dir(data_dir) / f"{snapshot_id}.json").read_text())


def snapshot_created_at(snapshot_id: str) -> datetime:
    return datetime.strptime(snapshot_id, _ID_FORMAT).replace(tzinfo=UTC)


def is_snapshot_id(text: str) -> bool:
    return _ID_PATTERN.fullmatch(text) is not None


def manifest_digest(entries: Iterable[OutputEntry]) -> str:
    pairs = sorted(f"{entry.path}\0{entry.sha256}" for entry in entries)
    return hashlib.sha256("\n".join(pairs).encode()).hexdigest()


def read_heads(data_dir: Path) -> dict[str, dict[str, str]]:
    """``"<source>/<job>"`` -> ``{"id": latest snapshot holding it, "digest": ...}``."""
    try:
        heads = json.loads(_heads_path(data_dir).read_text())
    except (OSError, ValueError):
        return {}
    return heads if isinstance(heads, dict) else {}


def keep_for_snapshots(path: Path, replacement: Path | None = None) -> None:
    """Call just before ``path`` is replaced (by the file ``replacement``) or removed: when
    ``path`` is an ingested output of a data folder that records snapshots, and its bytes
    still match its sidecar, keep those bytes in the object store (a hard link, or a copy
    across filesystems). Nothing is kept when ``replacement`` holds the same bytes: they
    stay readable in place."""
    data_dir = data_dir_of(path)
    if data_dir is None or not runs_dir(data_dir).is_dir() or not path.is_file():
        return
    record = read_sidecar(path) or {}
    sha = (record.get("file") or {}).get("sha256")
    if record.get("kind") != "ingested" or not isinstance(sha, str):
        return
    target = object_path(data_dir, sha)
    if target.exists() or (replacement is not None and _same_bytes(replacement, record, sha)):
        return  # already kept, or the same bytes stay in place
    if sha256_of(path) != sha:
        return  # not the bytes any snapshot recorded
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name_for(target)
    try:
        try:
            os.link(path, tmp)
        except OSError:
            shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _same_bytes(replacement: Path, record: Mapping[str, Any], sha: str) -> bool:
    try:
        size = replacement.stat().st_size
    except OSError:
        return False
    return size == (record.get("file") or {}).get("bytes") and sha256_of(replacement) == sha


class RunRecorder:
    """Collects each finished job's outputs during a run; ``commit`` writes one snapshot
    holding the jobs whose outputs changed since their last snapshot (none: nothing)."""

    def __init__(self, data_dir: Path, now: Callable[[], datetime]) -> None:
        self.data_dir = data_dir
        self.now = now
        self._jobs: dict[str, tuple[list[Path], str]] = {}

    def add_job(
        self, source: str, job: str, config: Mapping[str, Any], outputs: Sequence[Path]
    ) -> None:
        text = json.dumps(config, sort_keys=True, default=str)
        self._jobs[f"{source}/{job}"] = (list(outputs), text)

    def commit(self) -> SnapshotRecord | None:
        if not self._jobs:
            return None
        heads = read_heads(self.data_dir)
        changed: dict[str, list[OutputEntry]] = {}
        datasets: set[str] = set()
        for key, (outputs, _) in self._jobs.items():
            previous = _previous_entries(self.data_dir, key, heads.get(key))
            entries = _describe_all(outputs, self.data_dir, previous)
            digest = manifest_digest(entries)
            if heads.get(key, {}).get("digest") == digest:
                continue
            changed[key] = entries
            datasets |= _changed_datasets(key, previous.values(), entries)
        if not changed:
            return None
        snapshot_id = _new_id(self.data_dir, self.now().astimezone(UTC))
        configs = "\n".join(f"{key}={self._jobs[key][1]}" for key in sorted(changed))
        record = SnapshotRecord(
            id=snapshot_id,
            created_at=snapshot_created_at(snapshot_id),  # ids are times, strictly increasing
            config_hash=hashlib.sha256(configs.encode()).hexdigest(),
            jobs=changed,
            datasets=sorted(datasets),
        )
        runs_dir(self.data_dir).mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(runs_dir(self.data_dir) / f"{record.id}.json", record.to_json().encode())
        for key, entries in changed.items():
            heads[key] = {"id": record.id, "digest": manifest_digest(entries)}
        write_heads(self.data_dir, heads)
        log.info("recorded snapshot %s (%s)", record.id, ", ".join(record.datasets))
        return record


def write_heads(data_dir: Path, heads: Mapping[str, Mapping[str, str]]) -> None:
    text = json.dumps(heads, indent=1, sort_keys=True) + "\n"
    write_bytes_atomic(_heads_path(data_dir), text.encode())


def dataset_name(entry: OutputEntry) -> str:
    """``<source>/<job>`` plus ``/<schema>`` for outputs under a ``schema=`` folder (the
    catalog drops that part when the job has only one record type)."""
    base = f"{entry.source}/{entry.job}"
    return f"{base}/{entry.part}" if entry.part else base


def _changed_datasets(
    key: str, before: Iterable[OutputEntry], after: Iterable[OutputEntry]
) -> set[str]:
    old = {(dataset_name(entry), entry.path, entry.sha256) for entry in before}
    new = {(dataset_name(entry), entry.path, entry.sha256) for entry in after}
    names = {name for name, _, _ in old ^ new}
    return names or {key}


def _previous_entries(
    data_dir: Path, key: str, head: Mapping[str, str] | None
) -> dict[str, OutputEntry]:
    """The outputs job ``key`` held in its latest snapshot, by path."""
    if not head:
        return {}
    try:
        record = read_snapshot(data_dir, head["id"])
    except (OSError, ValueError, KeyError):
        return {}
    return {entry.path: entry for entry in record.jobs.get(key, ())}


def _describe_all(
    outputs: Iterable[Path], data_dir: Path, previous: Mapping[str, OutputEntry]
) -> list[OutputEntry]:
    entries = []
    root = data_dir.resolve()
    for path in sorted(set(outputs)):
        relative = path.resolve().relative_to(root).as_posix()
        known = previous.get(relative)
        sha = ((read_sidecar(path) or {}).get("file") or {}).get("sha256")
        if known is not None and known.sha256 == sha:
            entries.append(known)
            continue
        entry = describe_output(path, data_dir)
        if entry is not None:
            entries.append(entry)
    return sorted(entries, key=lambda entry: entry.path)


def _new_id(data_dir: Path, created_at: datetime) -> str:
    """A time-ordered id, later than every existing one."""
    candidate = created_at.strftime(_ID_FORMAT)
    existing = snapshot_ids(data_dir)
    if existing and candidate <= existing[-1]:
        later = snapshot_created_at(existing[-1]) + timedelta(microseconds=1)
        candidate = later.strftime(_ID_FORMAT)
    return candidate


def prune_snapshots(
    data_dir: Path, *, keep: int | None = None, before: datetime | None = None
) -> tuple[list[str], int]:
    """Remove snapshots that are older than the ``keep`` newest and/or created before
    ``before`` (both given: both must hold), then the stored objects no remaining snapshot
    holds. A job's latest snapshot always stays (it describes the current data). Returns
    the removed ids and how many objects were deleted. Call under the run lock."""
    if keep is None and before is None:
        raise ValueError("say what to prune: keep N newest and/or before a date")
    ids = snapshot_ids(data_dir)
    heads = {head.get("id") for head in read_heads(data_dir).values()}
    old = set(ids[: max(len(ids) - keep, 0)]) if keep is not None else set(ids)
    if before is not None:
        old = {sid for sid in old if snapshot_created_at(sid) < before}
    removed = [sid for sid in ids if sid in old and sid not in heads]
    for sid in removed:
        (runs_dir(data_dir) / f"{sid}.json").unlink(missing_ok=True)
    held = {
        entry.sha256
        for sid in snapshot_ids(data_dir)
        for entries in read_snapshot(data_dir, sid).jobs.values()
        for entry in entries
    }
    deleted = 0
    objects = store_root(data_dir) / "objects"
    if removed and objects.is_dir():
        for path in objects.glob("*.parquet"):
            if path.name.removesuffix(".parquet") not in held:
                path.unlink(missing_ok=True)
                deleted += 1
    return removed, deleted
