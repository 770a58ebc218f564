"""Which stored raw files cover a chunk, and which gaps of it must still be fetched.

A raw file of one symbol holds the bars of its name's [start, end). It counts only when it
is complete: its sidecar's sha256 matches and it was fetched after its end. A chunk is
covered from its start onwards by the complete file reaching furthest at each point; what
no file covers is a gap, fetched (and stored) as a piece of its own. A file may start
before the chunk or end after it (another job's range or `chunk:` over the same series):
then only its window of it is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from multigate.sources.alpaca.paths import raw_file_span
from multigate.storage.chunks_on_disk import chunk_is_stored
from multigate.time_chunks import Chunk


@dataclass(frozen=True)
class RawFile:
    path: Path
    span: Chunk
    """The [start, end) its name says it holds."""


@dataclass(frozen=True)
class Use:
    file: RawFile
    window: Chunk
    """The part of the file's span the chunk takes."""

    @property
    def whole(self) -> bool:
        return self.window == self.file.span


@dataclass(frozen=True)
class Cover:
    chunk: Chunk
    uses: tuple[Use, ...]
    gaps: tuple[Chunk, ...]

    @property
    def complete(self) -> bool:
        return not self.gaps


def raw_files(folder: Path) -> list[RawFile]:
    """Every raw file in `folder` whose name gives its span (complete or not)."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        span = raw_file_span(path.name)
        if span is not None and path.is_file():
            found.append(RawFile(path, span))
    return found


def complete_files(files: Sequence[RawFile]) -> list[RawFile]:
    """The files that hold a whole download fetched after their span ended."""
    return [f for f in files if chunk_is_stored(f.path, f.span.end)]


def cover(chunk: Chunk, complete: Sequence[RawFile]) -> Cover:
    """Cover `chunk` with the complete files, furthest-reaching first; the rest are gaps."""
    uses: list[Use] = []
    gaps: list[Chunk] = []
    cursor = chunk.start
    while cursor < chunk.end:
        here = [f for f in complete if f.span.start <= cursor < f.span.end]
        if here:
            best = max(here, key=lambda f: (f.span.end, -f.span.start.timestamp()))
            stop = min(best.span.end, chunk.end)
            uses.append(Use(best, Chunk(cursor, stop)))
        else:
            later = [f.span.start for f in complete if cursor < f.span.start < chunk.end]
            stop = min(later, default=chunk.end)
            gaps.append(Chunk(cursor, stop))
        cursor = stop
    return Cover(chunk, tuple(uses), tuple(gaps))
