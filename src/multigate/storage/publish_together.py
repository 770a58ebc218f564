"""Publish a job's outputs together, only once all of them are written.

Every file is written under its temporary name first; only when all are written do their
sidecars go in place (each recording its temporary file's bytes) and then the files move
under them, so no file is ever seen at its final name without its sidecar. A failure while
writing any of them leaves every target as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from multigate.storage.atomic import atomic_path
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    digest_file_as,
)
from multigate.storage.publish import write_output_sidecar


@dataclass(frozen=True)
class PendingFile:
    path: Path
    write: Callable[[Path], None]
    """Writes the file's bytes to the temporary path it is given."""
    describe: Callable[[FileDigest], Provenance]
    """The finished file's provenance, from its digest."""
    measure: Callable[[Path], FileDigest] | None = None
    """The digest of the written temporary file, when the writer knows it (else hashed)."""


def publish_together(
    files: Sequence[PendingFile], *, data_dir: Path, now: datetime | None = None
) -> list[FileDigest]:
    """Write every file to a temporary name; then put every sidecar in place and move the
    files under them."""
    digests = []
    with contextlib.ExitStack() as stack:
        temps = [
            (item, stack.enter_context(atomic_path(item.path, sidecar_written=True)))
            for item in files
        ]
        for item, tmp in temps:
            item.write(tmp)
        for item, tmp in temps:
            if item.measure is not None:
                digest = item.measure(tmp)
            else:
                digest = digest_file_as(tmp, item.path, relative_to=data_dir)
            write_output_sidecar(item.path, item.describe(digest), created_at=now, written=tmp)
            digests.append(digest)
    return digests
