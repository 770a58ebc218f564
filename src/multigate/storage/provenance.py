"""``<file>.source.json`` sidecars: what a file is, where it came from, how it was made.

A sidecar is written first, just before the file it describes moves into place, and records
the file's sha256; a data file without a matching sidecar, or a sidecar without its file, is
treated as absent and is made again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from multigate.storage.atomic import write_bytes_atomic
from multigate.storage.hashing import sha256_of
from multigate.storage.layout import sidecar_path
from multigate.storage.sidecar_check import sidecar_problem

SIDECAR_FORMAT_VERSION = 1
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileDigest:
    """A file's name (relative to the data dir where possible), sha256 and size."""

    name: str
    sha256: str
    bytes: int


def digest_file(path: Path, relative_to: Path | None = None) -> FileDigest:
    return digest_file_as(path, path, relative_to)


def digest_file_as(file: Path, path: Path, relative_to: Path | None = None) -> FileDigest:
    """The digest of ``file`` under the name ``path`` (its final name, when ``file`` is the
    temporary file about to become it)."""
    return FileDigest(digest_name(path, relative_to), sha256_of(file), file.stat().st_size)


def digest_name(path: Path, relative_to: Path | None = None) -> str:
    """How a digest names ``path``: relative to ``relative_to`` (the data folder) where
    possible."""
    if relative_to is None:
        return str(path)
    try:
        return str(path.resolve().relative_to(relative_to.resolve()))
    except ValueError:
        return str(path.resolve())


def fingerprint(params: Mapping[str, Any], inputs: Sequence[FileDigest] = ()) -> str:
    """A stable hash of what an output depends on: its parameters and its inputs' contents."""
    payload = {
        "params": params,
        "inputs": sorted(item.sha256 for item in inputs),
    }
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def package_versions(names: Iterable[str]) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        version = _installed_version(name)
        if version is not None:
            versions[name] = version
    return versions


@functools.cache
def _installed_version(name: str) -> str | None:
    """Looked up once per process (reading package metadata takes milliseconds a file; the
    code this process runs is the version it found first)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Provenance:
    """Everything a sidecar says. ``kind`` is ``raw`` or ``ingested``."""

    kind: str
    source: str
    job: str
    mode: str
    query: Mapping[str, Any]
    file: FileDigest
    fingerprint: str
    vendor: Mapping[str, Any] = field(default_factory=dict)
    inputs: Sequence[FileDigest] = ()
    rows: int | None = None
    first_ts: str | None = None
    last_ts: str | None = None
    symbols: Sequence[str] = ()
    tools: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    quality: Mapping[str, Any] = field(default_factory=dict)
    """Ingested outputs: sessions and check results (``multigate.quality.assess``)."""

    def to_json(self, created_at: datetime) -> str:
        record = {"format_version": SIDECAR_FORMAT_VERSION, **asdict(self)}
        record["file"] = asdict(self.file)
        record["inputs"] = [asdict(item) for item in self.inputs]
        record["symbols"] = list(self.symbols)
        record["created_at"] = created_at.astimezone(UTC).isoformat()
        return json.dumps(record, indent=2, sort_keys=True, default=str) + "\n"


def write_sidecar(path: Path, provenance: Provenance, created_at: datetime | None = None) -> Path:
    """Write ``<path>.source.json`` atomically; call after ``path`` itself is in place."""
    target = sidecar_path(path)
    text = provenance.to_json(created_at or datetime.now(UTC))
    write_bytes_atomic(target, text.encode())
    return target


def remove_sidecar(path: Path) -> None:
    """Delete ``path``'s sidecar, if any (before new bytes replace ``path``)."""
    sidecar_path(path).unlink(missing_ok=True)


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar of ``path`` as a dict, or None when it is missing, unreadable or not in
    the shape Multigate writes (hand-edited: wrong types, zone-less times): such a file is
    treated as having no sidecar, so it is verified or made again, never trusted."""
    record = _load_sidecar(path)
    if record is None:
        return None
    problem = sidecar_problem(record)
    if problem:
        _warn_once(sidecar_path(path), problem)
        return None
    return dict(record)


def sidecar_owner(path: Path) -> tuple[Any, Any, Any] | None:
    """``(kind, source, job)`` as ``path``'s sidecar states them, however malformed the
    rest of it is (pruning needs to know whose file it is)."""
    record = _load_sidecar(path)
    if not isinstance(record, dict):
        return None
    return record.get("kind"), record.get("source"), record.get("job")


def _load_sidecar(path: Path) -> Any:
    sidecar = sidecar_path(path)
    try:
        return json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        _warn_once(sidecar, f"unreadable ({exc})")
        return None


_warned: set[Path] = set()


def _warn_once(sidecar: Path, problem: str) -> None:
    if sidecar not in _warned:
        _warned.add(sidecar)
        log.warning("ignoring %s: %s; treated as absent", sidecar, problem)


def is_current(path: Path, expected_fingerprint: str) -> bool:
    """True when ``path`` exists, its sidecar matches ``expected_fingerprint``, and the
    file's bytes still hash to what the sidecar recorded."""
    if not path.is_file():
        return False
    record = read_sidecar(path)
    if record is None or record.get("fingerprint") != expected_fingerprint:
        return False
    recorded = record.get("file") or {}
    if recorded.get("bytes") != path.stat().st_size:
        return False
    return recorded.get("sha256") == sha256_of(path)
