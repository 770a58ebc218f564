"""Synthetic DBN v3 files for tests and benchmarks (built with databento_dbn).

The metadata header is encoded by ``databento_dbn.Metadata``; records are laid out
with the vendor's own v3 record dtypes (``<Struct>._dtypes``) and filled with numpy so
multi-million-record files can be generated quickly and in bounded memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import databento_dbn as dbn
import numpy as np
import zstandard

from .dbn_columns import UNDEF_PRICE
from .dbn_enums import STYPE_INSTRUMENT_ID, STYPE_RAW_SYMBOL
from .dbn_schemas import struct_for_schema

NS_PER_DAY = 86_400_000_000_000
DEFAULT_START = 1_700_006_400_000_000_000  # 2023-11-15T00:00:00Z


@dataclass
class _Interval:
    start_date: dt.date
    end_date: dt.date
    symbol: str


@dataclass
class _Mapping:
    raw_symbol: str
    intervals: list[_Interval] = field(default_factory=list)


def encode_metadata(
    schema: str | None,
    start: int,
    end: int,
    mappings: dict[str, list[tuple[dt.date, dt.date, str]]],
    dataset: str = "GLBX.MDP3",
    stype_in: dbn.SType = STYPE_RAW_SYMBOL,
) -> bytes:
    """Encode a v3 metadata block; ``mappings``: raw symbol -> [(start, end, instrument_id)]."""
    maps = [
        _Mapping(sym, [_Interval(a, b, iid) for a, b, iid in ivs]) for sym, ivs in mappings.items()
    ]
    meta = dbn.Metadata(
        dataset=dataset,
        start=start,
        stype_in=stype_in,
        stype_out=STYPE_INSTRUMENT_ID,
        schema=None if schema is None else dbn.Schema(schema),
        symbols=sorted(mappings),
        mappings=maps,  # type: ignore[arg-type]
        end=end,
        version=3,
    )
    return bytes(meta.encode())


def record_dtype(schema: str) -> np.dtype:
    return np.dtype(struct_for_schema(schema)._dtypes)


def synthetic_records(
    schema: str, n: int, n_instruments: int, first: int, start_ns: int, seed: int
) -> np.ndarray:
    """Records ``first .. first+n`` of a deterministic synthetic stream for ``schema``."""
    dtype = record_dtype(schema)
    rng = np.random.default_rng(seed + first)
    idx = np.arange(first, first + n, dtype=np.int64)
    recs = np.zeros(n, dtype=dtype)
    recs["length"] = dtype.itemsize // 4
    recs["rtype"] = int(dbn.RType.from_schema(dbn.Schema(schema)).value)
    recs["publisher_id"] = 1
    recs["instrument_id"] = 1 + (idx % n_instruments)
    ts = start_ns + idx * 1_000  # 1 us apart -> 20M records span 20 s
    names = set(dtype.names or ())
    recs["ts_event"] = ts
    if "ts_recv" in names:
        recs["ts_recv"] = ts + 500
    base = 4_500_000_000_000 + rng.integers(-(10**9), 10**9, n)
    for px in ("price", "open", "close", "bid_px_00", "low"):
        if px in names:
            recs[px] = base
    for px in ("ask_px_00", "high"):
        if px in names:
            recs[px] = base + 250_000_000
    if "ask_px_00" in names:
        recs["ask_px_00"][idx % 997 == 0] = UNDEF_PRICE  # exercise the NaN sentinel
    for sz in ("size", "volume", "bid_sz_00", "ask_sz_00"):
        if sz in names:
            recs[sz] = rng.integers(1, 500, n)
    if "action" in names:
        recs["action"] = np.where(idx % 2 == 0, b"T", b"A")
        recs["side"] = np.where(idx % 3 == 0, b"B", np.where(idx % 3 == 1, b"A", b"N"))
    if "sequence" in names:
        recs["sequence"] = idx.astype(np.uint32)
    if "ts_in_delta" in names:
        recs["ts_in_delta"] = 1_000
    return recs


def instrument_mappings(
    n_instruments: int, start_ns: int, days: int = 1
) -> dict[str, list[tuple[dt.date, dt.date, str]]]:
    d0 = dt.datetime.fromtimestamp(start_ns / 1e9, tz=dt.UTC).date()
    d1 = d0 + dt.timedelta(days=days)
    return {f"SYM{i:05d}": [(d0, d1, str(i))] for i in range(1, n_instruments + 1)}


def _write_stream(out: BinaryIO, header: bytes, chunks: Iterable[np.ndarray]) -> None:
    out.write(header)
    for chunk in chunks:
        out.write(chunk.tobytes())


def write_dbn(
    path: Path, header: bytes, chunks: Iterable[np.ndarray], *, compress: bool | None = None
) -> None:
    """Write ``header`` then records to ``path``, zstd-compressed if ``compress`` (default:
    when the name ends with .zst)."""
    if compress is None:
        compress = str(path).endswith(".zst")
    with open(path, "wb") as fh:
        if compress:
            with zstandard.ZstdCompressor(level=1).stream_writer(fh) as zw:
                _write_stream(zw, header, chunks)
        else:
            _write_stream(fh, header, chunks)


def write_synthetic_file(
    path: Path,
    schema: str,
    records: int,
    n_instruments: int = 500,
    seed: int = 7,
    chunk: int = 1_000_000,
) -> None:
    """Generate a homogeneous synthetic DBN v3 file in bounded memory."""
    start = DEFAULT_START
    end = start + records * 1_000 + 1_000
    header = encode_metadata(schema, start, end, instrument_mappings(n_instruments, start))

    def gen() -> Iterator[np.ndarray]:
        for first in range(0, records, chunk):
            n = min(chunk, records - first)
            yield synthetic_records(schema, n, n_instruments, first, start, seed)

    write_dbn(path, header, gen())
