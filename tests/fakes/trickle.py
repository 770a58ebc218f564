"""Send a body a few bytes at a time: a server that keeps every read alive but never
finishes, which a read timeout alone does not catch."""

from __future__ import annotations

import time
from typing import BinaryIO


def write_slowly(out: BinaryIO, body: bytes, step_bytes: int, interval: float) -> int:
    """Write ``body`` ``step_bytes`` at a time, ``interval`` seconds apart; stop quietly
    when the client hangs up. Return how many bytes were written (and flushed)."""
    if step_bytes < 1 or interval < 0:
        raise ValueError("trickle needs step_bytes >= 1 and interval >= 0")
    written = 0
    try:
        for offset in range(0, len(body), step_bytes):
            if offset:
                time.sleep(interval)
            piece = body[offset : offset + step_bytes]
            out.write(piece)
            out.flush()
            written += len(piece)
    except OSError:  # BrokenPipe / ConnectionReset / SSL EOF: the client gave up
        pass
    return written
