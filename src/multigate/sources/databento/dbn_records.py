"""Chunked record decoding: raw DBN v3 record bytes -> numpy structured arrays.

Homogeneous files (metadata schema set) are viewed directly with ``np.frombuffer``
exactly as ``DBNStore.to_ndarray`` does, after validating every record header.
Mixed files (schema unset) are split by rtype, one structured array per schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .dbn_schemas import RTYPE_TO_SCHEMA
from .dbn_stream import ByteReader, DbnFormatError, UpgradingReader, read_records

MIXED_CHUNK_BYTES = 8 * 1024 * 1024


def _check_truncation(reader: ByteReader) -> None:
    if isinstance(reader, UpgradingReader) and reader.leftover:
        raise DbnFormatError(f"truncated: incomplete final record ({reader.leftover} bytes)")


def iter_homogeneous(
    reader: ByteReader,
    dtype: np.dtype,
    rtypes: frozenset[int],
    rows_per_chunk: int,
) -> Iterator[np.ndarray]:
    """Yield structured arrays of up to ``rows_per_chunk`` validated records."""
    itemsize = dtype.itemsize
    want_len = itemsize // 4
    rtype_ok = np.zeros(256, dtype=bool)
    rtype_ok[sorted(rtypes)] = True
    done = 0
    while True:
        data = read_records(reader, rows_per_chunk * itemsize)
        if not data:
            break
        if len(data) % itemsize:
            raise DbnFormatError(
                f"truncated: {len(data) % itemsize} trailing bytes after record {done + 1}"
                f" (record size {itemsize})"
            )
        recs = np.frombuffer(data, dtype=dtype)
        heads = np.frombuffer(data, dtype=np.uint8).reshape(-1, itemsize)
        bad = (heads[:, 0] != want_len) | ~rtype_ok[heads[:, 1]]
        if bad.any():
            i = int(np.argmax(bad))
            raise DbnFormatError(
                f"corrupt record #{done + i + 1}: length={heads[i, 0] * 4} rtype={heads[i, 1]:#x}"
                f" (expected length {itemsize}, rtype in {sorted(rtypes)})"
            )
        done += len(recs)
        yield recs
        if len(data) < rows_per_chunk * itemsize:
            break
    _check_truncation(reader)


def iter_record_spans(reader: ByteReader) -> Iterator[tuple[bytes, list[int]]]:
    """Yield, per chunk, a buffer and the offsets of the complete records in it (each
    record's length is its first byte times 4)."""
    carry = b""
    while True:
        fresh = read_records(reader, MIXED_CHUNK_BYTES)
        buf = carry + fresh
        if not buf:
            break
        starts: list[int] = []
        pos = 0
        size = len(buf)
        while pos < size:
            length = buf[pos] * 4
            if length == 0:
                raise DbnFormatError(f"corrupt record header (length 0) at chunk offset {pos}")
            if pos + length > size:
                break
            starts.append(pos)
            pos += length
        carry = buf[pos:]
        if not fresh:
            if carry:
                raise DbnFormatError(f"truncated: incomplete final record ({len(carry)} bytes)")
            if not starts:
                break
        yield buf, starts
        if not fresh:
            break
    _check_truncation(reader)


def iter_mixed(
    reader: ByteReader,
    dtypes: dict[str, np.dtype],
) -> Iterator[list[tuple[str, np.ndarray]]]:
    """Yield, per chunk, ``(schema, records)`` groups in order of first appearance.

    Records whose rtype is not a market-data schema (symbol mappings, system and
    error messages) are skipped, as ``to_df(schema=...)`` filters them out too; the
    converter counts them separately (see ``dbn_control``).
    """
    for buf, starts in iter_record_spans(reader):
        groups: dict[str, list[bytes]] = {}
        for start in starts:
            schema = RTYPE_TO_SCHEMA.get(buf[start + 1])
            if schema is None:
                continue
            length = buf[start] * 4
            if length != dtypes[schema].itemsize:
                raise DbnFormatError(
                    f"corrupt {schema} record: length {length}, expected {dtypes[schema].itemsize}"
                )
            groups.setdefault(schema, []).append(buf[start : start + length])
        out = [(s, np.frombuffer(b"".join(parts), dtype=dtypes[s])) for s, parts in groups.items()]
        if out:
            yield out
