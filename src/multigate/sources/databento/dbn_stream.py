"""Byte-level access to DBN files: decompression, metadata, and upgrade to DBN v3.

Everything here is streaming: at most one read-sized buffer (plus the transcoder's
internal buffer) is held in memory at a time.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import databento_dbn as dbn
import zstandard

from multigate.sources.databento.dbn_enums import (
    AS_IS,
    COMPRESSION_NONE,
    ENCODING_DBN,
    UPGRADE_TO_V3,
)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
DBN_MAGIC = b"DBN"
PREFIX_LEN = 8  # b"DBN" + version byte + u32 metadata length
MAX_METADATA_LEN = 64 * 1024 * 1024
_UPGRADE_READ = 1 << 20
_ZSTD_READ = 1 << 18


def _take(buf: bytearray, n: int) -> bytes:
    """Remove and return the first ``n`` bytes (all if ``n < 0``) of ``buf``."""
    if n < 0 or n >= len(buf):
        out = bytes(buf)
        buf.clear()
        return out
    out = bytes(memoryview(buf)[:n])
    del buf[:n]
    return out


class DbnFormatError(ValueError):
    """Raised for input that is not a readable DBN stream (wrapped by the caller)."""


class ByteReader(Protocol):
    """What the decoders read from: a file opened ``rb`` or one of the readers below."""

    def read(self, n: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def _read_exact(reader: ByteReader, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads; fewer only at EOF."""
    parts: list[bytes] = []
    remaining = n
    while remaining > 0:
        chunk = reader.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def open_decompressed(src: Path) -> ByteReader:
    """Open ``src`` and return a reader of the decompressed byte stream."""
    raw = open(src, "rb")  # ownership passes to the returned reader
    try:
        head = raw.read(4)
        raw.seek(0)
        if not head:
            raise DbnFormatError("file is empty (0 bytes)")
        if head == ZSTD_MAGIC:
            return ZstdReader(raw)
        if head[:3] == DBN_MAGIC:
            return raw
        raise DbnFormatError(
            "not a DBN stream (no 'DBN' or zstd magic; legacy .dbz and metadata-less "
            "fragments are not supported)"
        )
    except BaseException:
        raw.close()
        raise


class ZstdReader(io.RawIOBase):
    """Multi-frame zstd decompressing reader that detects truncated frames.

    (``zstandard``'s ``stream_reader`` silently returns EOF on a truncated frame.)
    """

    def __init__(self, raw: ByteReader) -> None:
        super().__init__()
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._in_frame = False
        self._buf = bytearray()
        self._eof = False

    def readable(self) -> bool:
        return True

    def _feed(self, data: bytes) -> None:
        while data:
            self._in_frame = True
            self._buf += self._obj.decompress(data)
            if not self._obj.eof:
                return
            data = self._obj.unused_data
            self._obj = self._dctx.decompressobj()
            self._in_frame = False

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or len(self._buf) < n):
            chunk = self._raw.read(_ZSTD_READ)
            if chunk:
                self._feed(chunk)
            else:
                self._eof = True
                if self._in_frame:
                    raise DbnFormatError("truncated zstd stream (incomplete final frame)")
        return _take(self._buf, n)

    def close(self) -> None:
        self._raw.close()
        super().close()


def read_metadata_bytes(reader: ByteReader) -> tuple[bytes, dbn.Metadata]:
    """Read the metadata block at the current position; return its raw bytes and decoding."""
    prefix = _read_exact(reader, PREFIX_LEN)
    if len(prefix) < PREFIX_LEN or prefix[:3] != DBN_MAGIC:
        raise DbnFormatError(
            "missing DBN metadata header (metadata-less fragment, legacy .dbz, or not DBN)"
        )
    version = prefix[3]
    if not 1 <= version <= 3:
        raise DbnFormatError(f"unsupported DBN version {version}")
    length = int.from_bytes(prefix[4:8], "little")
    if length > MAX_METADATA_LEN:
        raise DbnFormatError(f"implausible metadata length {length}")
    body = _read_exact(reader, length)
    if len(body) < length:
        raise DbnFormatError("truncated metadata header")
    block = prefix + body
    meta = dbn.Metadata.decode(block, upgrade_policy=AS_IS)
    return block, meta


class _Sink(io.RawIOBase):
    """Write target for the Transcoder: an in-memory FIFO of bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buf += data
        return len(data)


class UpgradingReader(io.RawIOBase):
    """Pull-based reader yielding a DBN v3 stream from an older-version DBN stream.

    Uses databento_dbn's Rust ``Transcoder`` (the vendor's own upgrade logic) with
    ``UPGRADE_TO_V3``. The output starts with the upgraded v3 metadata block.
    """

    def __init__(self, source: ByteReader) -> None:
        super().__init__()
        self._source = source
        self._sink = _Sink()
        self._transcoder = dbn.Transcoder(
            cast(BinaryIO, self._sink),
            ENCODING_DBN,
            COMPRESSION_NONE,
            upgrade_policy=UPGRADE_TO_V3,
        )
        self._eof = False
        self.leftover = 0  # bytes of an incomplete trailing record seen by the transcoder

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        buf = self._sink.buf
        while not self._eof and (n < 0 or len(buf) < n):
            chunk = self._source.read(_UPGRADE_READ)
            if chunk:
                self._transcoder.write(chunk)
            else:
                self._transcoder.flush()
                self.leftover = len(self._transcoder.buffer())
                self._eof = True
        return _take(buf, n)

    def close(self) -> None:
        self._source.close()
        super().close()


OriginalBytesTap = Callable[[bytes], None]


def open_v3(
    src: Path,
    tap_for: Callable[[dbn.Metadata], OriginalBytesTap | None] | None = None,
) -> tuple[ByteReader, dbn.Metadata, int]:
    """Open ``src`` as a v3 DBN record stream positioned after the metadata.

    Returns ``(reader, metadata, original_version)``; metadata is upgraded to v3. For an
    older file, ``tap_for(original_metadata)`` may return a callable that is fed the
    original record bytes (after the metadata) before they are upgraded.
    """
    reader = open_decompressed(src)
    try:
        block, meta = read_metadata_bytes(reader)
        version = meta.version
        if version >= 3:
            return reader, meta, version
        tap = None if tap_for is None else tap_for(meta)
        source = reader if tap is None else cast(ByteReader, _Tapped(reader, tap))
        upgrading = UpgradingReader(_Prepend(block, source))
        _, meta3 = read_metadata_bytes(upgrading)
        return upgrading, meta3, version
    except BaseException:
        reader.close()
        raise


class _Tapped(io.RawIOBase):
    """A reader that hands every piece it reads to ``tap`` as well."""

    def __init__(self, inner: ByteReader, tap: OriginalBytesTap) -> None:
        super().__init__()
        self._inner = inner
        self._tap = tap

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        if data:
            self._tap(data)
        return data

    def close(self) -> None:
        self._inner.close()
        super().close()


class _Prepend(io.RawIOBase):
    """A reader that first yields ``head`` then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: ByteReader) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._head:
            out, self._head = self._head, b""
            return out
        return self._rest.read(n)

    def close(self) -> None:
        self._rest.close()
        super().close()


def read_records(reader: ByteReader, n: int) -> bytes:
    """Read up to ``n`` bytes of records (fewer only at end of stream)."""
    return _read_exact(reader, n)
