"""Send a body a few bytes at a time: a server that keeps every read alive but never
finishes, which a read timeout alone does not catch."""

from __future__ import annotations

import time
from typing import BinaryIO


def write_slowly(out: BinaryIO, body: bytes, step_bytes: int, interval: float) -> None:
    """Write ``body`` ``step_bytes`` at a time, ``interval`` seconds apart; stop quietly
    when the client hangs up."""
    if step_bytes < 1 or interval < 0:
        raise ValueError("trickle needs step_bytes >= 1 and interval >= 0")
    try:
        for offset in range(0, len(body), step_bytes):
            if offset:
                time.sleep(interval)
            out.write(body[offset : offset + step_bytes])
            out.flush()
    except OSError:  # BrokenPipe / ConnectionReset / SSL EOF: the client gave up
        return
