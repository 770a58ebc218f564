"""``multigate check --verify``: every stored file's bytes against what its record says.

Raw downloads and ingested outputs are compared with their sidecar (sha256 and size); the
files of the datasets' Delta tables (``<output>.v-<sha256[:16]>.parquet``, past versions
included) with their own name. A flipped byte that keeps the size is found here, whatever
format the file has.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from multigate.storage.delta_tables import versioned_digest
from multigate.storage.hashing import sha256_of
from multigate.storage.layout import SIDECAR_SUFFIX

_TREES = ("raw", "ingested")


@dataclass(frozen=True)
class Mismatch:
    """A file whose bytes are not those recorded (or that cannot be checked)."""

    path: str
    """Relative to the data folder."""
    problem: str


@dataclass(frozen=True)
class Verified:
    files: int
    bytes: int
    mismatches: list[Mismatch]


def verify_data_dir(data_dir: Path) -> Verified:
    """Hash every raw and ingested file that has a sidecar, and every table file."""
    files = total = 0
    mismatches: list[Mismatch] = []
    for path, sha256, size in _recorded_files(data_dir, mismatches):
        shown = path.relative_to(data_dir).as_posix()
        files += 1
        try:
            actual_size = path.stat().st_size
            actual = sha256_of(path) if actual_size == size or size is None else None
        except FileNotFoundError:
            mismatches.append(Mismatch(shown, "missing: its sidecar (or snapshot) records it"))
            continue
        except OSError as exc:
            mismatches.append(Mismatch(shown, f"cannot be read: {exc.strerror or exc}"))
            continue
        total += actual_size
        if size is not None and actual_size != size:
            mismatches.append(Mismatch(shown, f"size {actual_size:,} bytes, recorded {size:,}"))
        elif actual is None or not actual.startswith(sha256):
            mismatches.append(
                Mismatch(shown, f"sha256 {actual[:12] if actual else '?'}..., recorded "
                                f"{sha256[:12]}... (same size: bytes changed in place)")
            )  # fmt: skip
    return Verified(files, total, mismatches)


def _recorded_files(
    data_dir: Path, mismatches: list[Mismatch]
) -> Iterator[tuple[Path, str, int | None]]:
    """``(file, sha256, size)`` as recorded: sidecars under raw/ and ingested/, then the
    tables' content-named files (their name holds the start of their sha256)."""
    for tree in _TREES:
        for folder, _dirs, names in os.walk(data_dir / tree):
            for name in sorted(names):
                if not name.endswith(SIDECAR_SUFFIX) or name.startswith("."):
                    continue
                sidecar = Path(folder) / name
                shown = sidecar.relative_to(data_dir).as_posix()
                try:
                    record = json.loads(sidecar.read_text(encoding="utf-8"))
                    recorded = record["file"]
                    sha256, size = str(recorded["sha256"]), int(recorded["bytes"])
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    mismatches.append(Mismatch(shown, f"sidecar unreadable ({exc})"))
                    continue
                yield sidecar.with_name(name[: -len(SIDECAR_SUFFIX)]), sha256, size
    for folder, _dirs, names in os.walk(data_dir / "ingested"):
        for name in sorted(names):
            digest = versioned_digest(name)
            if digest is not None:
                yield Path(folder) / name, digest, None
