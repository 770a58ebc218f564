"""Snapshots: what every dataset held after each run, and the bytes to read it again.

::

    <data_dir>/.snapshots/runs/<id>.json        one record per run that changed a dataset
    <data_dir>/.snapshots/heads.json            job -> its latest record and manifest digest
    <data_dir>/.snapshots/objects/<sha256>.parquet
                                                bytes of outputs a later run replaced or pruned

A record holds, per job it changed, what changed since the job's previous snapshot (outputs
added or replaced, with their sha256, and paths removed), or now and then a checkpoint of
the job's whole manifest (see ``snapshot_records``): a run costs in proportion to what it
changed. Current outputs stay where they are; only just before an output is replaced by
different bytes or pruned are its bytes kept, content-addressed, in ``objects/`` (a hard
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
from multigate.storage.snapshot_records import (
    STORE_NAME,
    JobChanges,
    Manifest,
    SnapshotChainBroken,
    SnapshotRecord,
    SnapshotRecordUnreadable,
    job_manifest,
    object_path,
    read_snapshot,
    record_path,
    runs_dir,
    store_root,
)
from multigate.storage.snapshot_signatures import (
    Signature,
    filesystem_now,
    is_trusted,
    signature_of,
)

__all__ = [
    "STORE_NAME",
    "JobChanges",
    "Manifest",
    "RecordedOutput",
    "RunRecorder",
    "SnapshotChainBroken",
    "SnapshotRecord",
    "SnapshotRecordUnreadable",
    "dataset_name",
    "is_snapshot_id",
    "job_manifest",
    "keep_for_snapshots",
    "keep_replaced",
    "manifest_digest",
    "object_path",
    "prune_snapshots",
    "read_heads",
    "read_snapshot",
    "recorded_output",
    "runs_dir",
    "snapshot_created_at",
    "snapshot_ids",
    "store_root",
    "write_heads",
]

log = logging.getLogger(__name__)

_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"
_ID_PATTERN = re.compile(r"\d{8}T\d{12}Z")

MAX_DELTAS = 1000
"""A job gets a checkpoint at the latest after this many deltas (bounds what rebuilding a
manifest reads); earlier when its deltas since the checkpoint store as many items as a
checkpoint would, so checkpoints cost at most as much as the deltas they follow."""


def _heads_path(data_dir: Path) -> Path:
    return store_root(data_dir) / "heads.json"


def snapshot_ids(data_dir: Path) -> list[str]:
    """Every recorded snapshot id, oldest first (ids sort by time)."""
    try:
        names = os.listdir(runs_dir(data_dir))
    except FileNotFoundError:
        return []
    return sorted(
        name[:-5] for name in names if name.endswith(".json") and not name.startswith(".")
    )


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
    if not isinstance(heads, dict):
        return {}
    # a damaged entry counts as absent: the job's next record is then a checkpoint
    return {
        str(job): {str(k): str(v) for k, v in head.items()}
        for job, head in heads.items()
        if isinstance(head, dict)
    }


def write_heads(data_dir: Path, heads: Mapping[str, Mapping[str, str]]) -> None:
    text = json.dumps(heads, indent=1, sort_keys=True) + "\n"
    write_bytes_atomic(_heads_path(data_dir), text.encode())


@dataclass(frozen=True)
class RecordedOutput:
    """What an ingested output's sidecar records, in a data folder that keeps snapshots."""

    data_dir: Path
    sha256: str
    bytes: int


def recorded_output(path: Path) -> RecordedOutput | None:
    """The bytes ``path``'s sidecar records, when ``path`` is an ingested output of a data
    folder that records snapshots (else None). Read it before a new sidecar replaces it."""
    data_dir = data_dir_of(path)
    if data_dir is None or not runs_dir(data_dir).is_dir() or not path.is_file():
        return None
    record = read_sidecar(path) or {}
    recorded = record.get("file") or {}
    sha, size = recorded.get("sha256"), recorded.get("bytes")
    if record.get("kind") != "ingested" or not isinstance(sha, str) or not isinstance(size, int):
        return None
    return RecordedOutput(data_dir, sha, size)


def keep_for_snapshots(path: Path) -> None:
    """Call just before ``path`` is removed: when it is an ingested output of a data folder
    that records snapshots, and its bytes still match its sidecar, keep those bytes in the
    object store (a hard link, or a copy across filesystems)."""
    recorded = recorded_output(path)
    if recorded is not None:
        keep_replaced(path, recorded)


def keep_replaced(path: Path, recorded: RecordedOutput, replacement: Path | None = None) -> None:
    """Keep the bytes ``recorded`` that ``path`` still holds in the object store, unless
    they are kept already or ``replacement`` (the file about to take ``path``'s place)
    holds the same bytes: then they stay readable in place and nothing is kept."""
    target = object_path(recorded.data_dir, recorded.sha256)
    if target.exists() or (replacement is not None and _holds(replacement, recorded)):
        return
    if not _holds(path, recorded):
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


def _holds(path: Path, recorded: RecordedOutput) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size == recorded.bytes and sha256_of(path) == recorded.sha256


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
        probe_ns = filesystem_now(store_root(self.data_dir))  # before any output is looked at
        records: dict[str, SnapshotRecord] = {}
        changed: dict[str, JobChanges] = {}
        digests: dict[str, str] = {}
        datasets: set[str] = set()
        for key, (outputs, _) in self._jobs.items():
            head = heads.get(key, {}).get("id")
            previous = _previous_manifest(self.data_dir, key, head, records)
            seen = _look_at_outputs(outputs, self.data_dir, previous, probe_ns)
            part = _job_changes(head if previous is not None else None, previous, seen)
            if part is None:
                continue
            changed[key] = part
            digests[key] = manifest_digest(seen.entries.values())
            datasets |= _changed_datasets(key, previous, seen)
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
        write_bytes_atomic(record_path(self.data_dir, record.id), record.to_json().encode())
        for key, digest in digests.items():
            heads[key] = {"id": record.id, "digest": digest}
        write_heads(self.data_dir, heads)
        log.info("recorded snapshot %s (%s)", record.id, ", ".join(record.datasets))
        return record


def dataset_name(entry: OutputEntry) -> str:
    """``<source>/<job>`` plus ``/<schema>`` for outputs under a ``schema=`` folder (the
    catalog drops that part when the job has only one record type)."""
    base = f"{entry.source}/{entry.job}"
    return f"{base}/{entry.part}" if entry.part else base


@dataclass
class _Outputs:
    """A job's outputs as a commit finds them."""

    entries: dict[str, OutputEntry] = field(default_factory=dict)
    """Every output, by path."""
    signatures: dict[str, Signature] = field(default_factory=dict)
    """Trusted signatures, by path."""
    changed: list[OutputEntry] = field(default_factory=list)
    """Outputs added or replaced since the previous snapshot."""
    refreshed: dict[str, Signature] = field(default_factory=dict)
    """Unchanged outputs whose signature is newly trusted."""


def _previous_manifest(
    data_dir: Path, key: str, head: str | None, records: dict[str, SnapshotRecord]
) -> Manifest | None:
    """What job ``key`` held in its latest snapshot (None: no readable snapshot)."""
    if not head:
        return None
    try:
        return job_manifest(data_dir, head, key, records)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("snapshot %s of %s unreadable (%s): recording it whole", head, key, exc)
        return None


def _look_at_outputs(
    outputs: Iterable[Path], data_dir: Path, previous: Manifest | None, probe_ns: int
) -> _Outputs:
    """Each output's entry: the previous one when its signature is unchanged (no file is
    read), or when its sidecar still records the same sha256; else described again."""
    seen = _Outputs()
    known = previous.entries if previous is not None else {}
    known_signatures = previous.signatures if previous is not None else {}
    root = data_dir.resolve()
    prefix = os.path.join(os.fspath(data_dir), "")
    for path in sorted(set(outputs), key=os.fspath):
        text = os.fspath(path)
        relative = _relative(text, path, prefix, root)
        signature = signature_of(text)
        old = known.get(relative)
        if (
            old is not None
            and signature is not None
            and known_signatures.get(relative) == signature
        ):
            seen.entries[relative] = old
            seen.signatures[relative] = signature
            continue
        trusted = signature is not None and is_trusted(signature, probe_ns)
        sha = ((read_sidecar(path) or {}).get("file") or {}).get("sha256")
        if old is not None and old.sha256 == sha:
            entry = old
            if trusted and signature is not None:
                seen.refreshed[relative] = signature
        else:
            described = describe_output(path, data_dir)
            if described is None:
                continue
            entry = described
            seen.changed.append(entry)
        seen.entries[entry.path] = entry
        if trusted and signature is not None:
            seen.signatures[entry.path] = signature
    return seen


def _relative(text: str, path: Path, prefix: str, root: Path) -> str:
    """``path`` (spelled ``text``) relative to the data folder: a string operation when it
    is spelled under the data folder's ``prefix`` (the dispatcher's outputs are), else
    resolved."""
    if text.startswith(prefix) and f"{os.sep}..{os.sep}" not in text:
        return text[len(prefix) :].replace(os.sep, "/")
    return path.resolve().relative_to(root).as_posix()


def _job_changes(head: str | None, previous: Manifest | None, seen: _Outputs) -> JobChanges | None:
    """The job's part of the record: None when nothing changed, a delta on ``head``, or a
    checkpoint (first snapshot, or the deltas since the last one weigh as much)."""
    checkpoint = JobChanges(
        base=None,
        outputs=[seen.entries[path] for path in sorted(seen.entries)],
        signatures=dict(seen.signatures),
    )
    if previous is None or head is None:
        return checkpoint if seen.entries else None
    removed = sorted(set(previous.entries) - set(seen.entries))
    if not seen.changed and not removed:
        return None
    changed_paths = {entry.path for entry in seen.changed}
    signatures = {p: s for p, s in seen.signatures.items() if p in changed_paths}
    delta = JobChanges(
        base=head,
        outputs=sorted(seen.changed, key=lambda entry: entry.path),
        removed=removed,
        signatures={**seen.refreshed, **signatures},
    )
    if previous.deltas + 1 >= MAX_DELTAS or previous.delta_size + delta.size >= checkpoint.size:
        return checkpoint
    return delta


def _changed_datasets(key: str, previous: Manifest | None, seen: _Outputs) -> set[str]:
    if previous is None:
        names = {dataset_name(entry) for entry in seen.entries.values()}
    else:
        gone = set(previous.entries) - set(seen.entries)
        names = {dataset_name(entry) for entry in seen.changed}
        names |= {dataset_name(previous.entries[path]) for path in gone}
        names |= {
            dataset_name(previous.entries[entry.path])
            for entry in seen.changed
            if entry.path in previous.entries
        }
    return names or {key}


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
    holds. A job's latest snapshot always stays (it describes the current data). A kept
    snapshot whose delta rests on a removed one is first rewritten as a checkpoint, so
    every kept snapshot reads exactly as before. Returns the removed ids and how many
    objects were deleted. Call under the run lock."""
    if keep is None and before is None:
        raise ValueError("say what to prune: keep N newest and/or before a date")
    ids = snapshot_ids(data_dir)
    heads = {head.get("id") for head in read_heads(data_dir).values()}
    old = set(ids[: max(len(ids) - keep, 0)]) if keep is not None else set(ids)
    if before is not None:
        old = {sid for sid in old if snapshot_created_at(sid) < before}
    removed = [sid for sid in ids if sid in old and sid not in heads]
    if not removed:
        return [], 0
    gone = set(removed)
    _fold_into_checkpoints(data_dir, [sid for sid in ids if sid not in gone], gone)
    for sid in removed:
        record_path(data_dir, sid).unlink(missing_ok=True)
    held = {
        entry.sha256
        for sid in snapshot_ids(data_dir)
        for part in read_snapshot(data_dir, sid).jobs.values()
        for entry in part.outputs
    }
    deleted = 0
    objects = store_root(data_dir) / "objects"
    if objects.is_dir():
        for path in objects.glob("*.parquet"):
            if path.name.removesuffix(".parquet") not in held:
                path.unlink(missing_ok=True)
                deleted += 1
    return removed, deleted


def _fold_into_checkpoints(data_dir: Path, kept: Sequence[str], removed: set[str]) -> None:
    """Rewrite each job part of a kept record whose base is about to be removed as the
    checkpoint it stands for (oldest first, before anything is removed: a crash in between
    leaves records that still read the same)."""
    records: dict[str, SnapshotRecord] = {}
    for sid in sorted(kept):
        record = records.get(sid) or read_snapshot(data_dir, sid)
        stale = [key for key, part in record.jobs.items() if part.base in removed]
        if not stale:
            continue
        jobs = dict(record.jobs)
        for key in stale:
            manifest = job_manifest(data_dir, sid, key, records)
            jobs[key] = JobChanges(
                base=None, outputs=manifest.sorted_entries(), signatures=manifest.signatures
            )
        folded = SnapshotRecord(
            id=record.id,
            created_at=record.created_at,
            config_hash=record.config_hash,
            jobs=jobs,
            datasets=record.datasets,
        )
        write_bytes_atomic(record_path(data_dir, sid), folded.to_json().encode())
        records[sid] = folded
