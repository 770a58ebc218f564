"""Download bars chunk by chunk into raw files, skipping chunks already stored.

A stored chunk is reused when its file matches its sidecar's sha256 and it was fetched
after the chunk ended (so it cannot have grown since). Everything else is fetched again;
symbols that share a chunk are fetched in one request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from multigate.sources.alpaca.client import RetryingCryptoClient, RetryingStockClient
from multigate.sources.alpaca.fetch import fetch_bars
from multigate.sources.alpaca.raw_store import encode_raw_bars
from multigate.storage.chunks_on_disk import chunk_is_stored
from multigate.storage.provenance import FileDigest, Provenance
from multigate.storage.publish import publish_file
from multigate.time_chunks import Chunk

log = logging.getLogger(__name__)

MAX_SYMBOLS_PER_REQUEST = 100


@dataclass(frozen=True)
class ChunkRequest:
    chunk: Chunk
    symbols: tuple[str, ...]


def missing_requests(
    chunks: Sequence[Chunk], symbols: Sequence[str], path_for: Callable[[str, Chunk], Path]
) -> list[ChunkRequest]:
    """The (chunk, symbols) pairs not yet stored, batched per chunk."""
    requests = []
    for chunk in chunks:
        missing = [s for s in symbols if not chunk_is_stored(path_for(s, chunk), chunk.end)]
        for i in range(0, len(missing), MAX_SYMBOLS_PER_REQUEST):
            requests.append(ChunkRequest(chunk, tuple(missing[i : i + MAX_SYMBOLS_PER_REQUEST])))
    return requests


def download_chunk(
    client: RetryingStockClient | RetryingCryptoClient,
    request: ChunkRequest,
    *,
    timeframe: str,
    adjustment: str | None,
    feed: str | None,
    path_for: Callable[[str, Chunk], Path],
    describe: Callable[[str, Chunk, FileDigest, int, datetime], Provenance],
    data_dir: Path,
    now: Callable[[], datetime],
) -> tuple[int, int]:
    """Fetch one chunk for its symbols and store one raw file per symbol (an empty bar
    list is stored too, so a quiet symbol is not asked again). Returns (files, bars)."""
    fetched_at = now()
    bars = fetch_bars(
        client,
        list(request.symbols),
        timeframe,
        request.chunk.start,
        request.chunk.end,
        adjustment=adjustment,
        feed=feed,
    )
    unexpected = set(bars) - set(request.symbols)
    if unexpected:
        log.warning("alpaca returned symbols not asked for: %s", ", ".join(sorted(unexpected)))
    files = total = 0
    for symbol in request.symbols:
        symbol_bars = bars.get(symbol, [])
        data = encode_raw_bars({symbol: symbol_bars})

        def provenance(
            digest: FileDigest, s: str = symbol, n: int = len(symbol_bars)
        ) -> Provenance:
            return describe(s, request.chunk, digest, n, fetched_at)

        publish_file(
            path_for(symbol, request.chunk),
            lambda tmp, payload=data: tmp.write_bytes(payload),
            provenance,
            data_dir=data_dir,
            now=fetched_at,
        )
        files += 1
        total += len(symbol_bars)
    return files, total
