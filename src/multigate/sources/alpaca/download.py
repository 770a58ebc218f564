"""Download the gaps of each chunk into raw files, one per symbol.

What is already stored (complete raw files, see raw_pieces) is never asked for again: only
each chunk's gaps are requested, so extending a range fetches only the new time. Symbols
with the same gap are fetched in one request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from multigate.sources.alpaca.client import RetryingCryptoClient, RetryingStockClient
from multigate.sources.alpaca.fetch import fetch_bars
from multigate.sources.alpaca.raw_pieces import Cover
from multigate.sources.alpaca.raw_store import encode_raw_bars
from multigate.storage.provenance import FileDigest, Provenance
from multigate.storage.publish import publish_file
from multigate.time_chunks import Chunk

log = logging.getLogger(__name__)

MAX_SYMBOLS_PER_REQUEST = 100


@dataclass(frozen=True)
class ChunkRequest:
    chunk: Chunk
    symbols: tuple[str, ...]


def missing_requests(covers: Mapping[str, Sequence[Cover]]) -> list[ChunkRequest]:
    """One request per gap (and batch of symbols sharing it), in time order."""
    by_gap: dict[Chunk, list[str]] = {}
    for symbol, symbol_covers in covers.items():
        for cover in symbol_covers:
            for gap in cover.gaps:
                by_gap.setdefault(gap, []).append(symbol)
    requests = []
    for gap in sorted(by_gap):
        missing = by_gap[gap]
        for i in range(0, len(missing), MAX_SYMBOLS_PER_REQUEST):
            requests.append(ChunkRequest(gap, tuple(missing[i : i + MAX_SYMBOLS_PER_REQUEST])))
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
    """Fetch one chunk (or gap of one) for its symbols and store one raw file per symbol
    (an empty bar list is stored too, so a quiet symbol is not asked again). Nothing is
    stored unless the whole answer passed its checks. Returns (files, bars)."""
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

        def write(tmp: Path, payload: bytes = data) -> None:
            tmp.write_bytes(payload)

        publish_file(
            path_for(symbol, request.chunk),
            write,
            provenance,
            data_dir=data_dir,
            now=fetched_at,
        )
        files += 1
        total += len(symbol_bars)
    return files, total
