"""Compact a finished chunk's raw pieces into one raw file, verified, then drop the pieces.

A chunk is finished when it ends where its calendar period ends and complete files cover
it with no gap. Its bars are the union of what each piece contributes (the piece's window
of it, in time order); the compacted file must read back as exactly that union before any
piece is removed. Its provenance lists every file it merged. Only files lying wholly
inside the chunk are removed: a wider file (another job's range or `chunk:`) is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from multigate.errors import DataError
from multigate.sources.alpaca.bars_check import bar_times, in_window
from multigate.sources.alpaca.raw_pieces import Cover, RawFile, Use
from multigate.sources.alpaca.raw_store import encode_raw_bars, read_raw_bars
from multigate.storage.chunks_on_disk import FETCHED_AT
from multigate.storage.provenance import (
    FileDigest,
    Provenance,
    read_sidecar,
    remove_sidecar,
    sha256_of,
)
from multigate.storage.publish import publish_file
from multigate.time_chunks import Chunk

log = logging.getLogger(__name__)

Bar = dict[str, Any]
# (digest, bars, fetched_at, merged files) -> the compacted file's provenance
Describe = Callable[[FileDigest, int, datetime, list[dict[str, Any]]], Provenance]


def _window_bars(use: Use, symbol: str) -> list[Bar]:
    bars = read_raw_bars(use.file.path).get(symbol, [])
    if use.whole or not bars:
        return bars
    stamps = bar_times(bars, symbol)
    inside = in_window(stamps, use.window).to_pylist()
    return [bar for bar, keep in zip(bars, inside, strict=True) if keep]


def _fetched_at(path: Path) -> datetime:
    record = read_sidecar(path) or {}
    return datetime.fromisoformat(str((record.get("extra") or {})[FETCHED_AT]))


def needs_compacting(cover: Cover, files: Sequence[RawFile]) -> bool:
    """Whether a finished, fully covered chunk is held by more than one file."""
    if not cover.complete:
        return False
    if len(cover.uses) > 1:
        return True
    kept = cover.uses[0].file.path
    return any(f.path != kept for f in _inside(cover.chunk, files))


def _inside(chunk: Chunk, files: Sequence[RawFile]) -> list[RawFile]:
    return [f for f in files if chunk.start <= f.span.start and f.span.end <= chunk.end]


def compact_chunk(
    cover: Cover,
    symbol: str,
    target: Path,
    files: Sequence[RawFile],
    describe: Describe,
    *,
    data_dir: Path,
    now: datetime,
) -> tuple[Use, ...]:
    """Write `target` as the union of the cover's pieces, verify it, remove the pieces
    inside the chunk. A chunk covered by one file (its own, or a wider one another job
    stored) keeps that file and loses only its leftovers. Returns the chunk's new cover."""
    if len(cover.uses) == 1:
        kept, uses = cover.uses[0].file.path, cover.uses
    else:
        kept, uses = target, (Use(RawFile(target, cover.chunk), cover.chunk),)
        bars = [bar for use in cover.uses for bar in _window_bars(use, symbol)]
        merged = [
            {
                "file": str(use.file.path.relative_to(data_dir)),
                "sha256": sha256_of(use.file.path),
                "start": use.window.start.isoformat(),
                "end": use.window.end.isoformat(),
                FETCHED_AT: _fetched_at(use.file.path).isoformat(),
            }
            for use in cover.uses
        ]
        fetched_at = max(_fetched_at(use.file.path) for use in cover.uses)
        data = encode_raw_bars({symbol: bars})

        def write(tmp: Path) -> None:
            tmp.write_bytes(data)

        publish_file(
            target,
            write,
            lambda digest: describe(digest, len(bars), fetched_at, merged),
            data_dir=data_dir,
            now=now,
        )
        if read_raw_bars(target) != {symbol: bars}:
            remove_sidecar(target)
            target.unlink(missing_ok=True)
            raise DataError(f"{target}: compacted bars differ from its pieces'; pieces kept")
        log.info("compacted %d raw pieces into %s", len(cover.uses), target)
    for piece in _inside(cover.chunk, files):
        if piece.path != kept:
            remove_sidecar(piece.path)
            piece.path.unlink(missing_ok=True)
    return uses
