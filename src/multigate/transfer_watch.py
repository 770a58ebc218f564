"""Abort a transfer that trickles: a read timeout bounds each read, not progress.

A server sending one byte a second never trips ``timeout_seconds`` and would hold a run
forever. :class:`RateWatch` counts the bytes of one transfer and raises
:class:`StalledTransfer` at the end of any window (``min_rate_window_seconds``) whose average
rate stayed under ``min_rate_bytes_per_second``; callers treat that as a broken stream and
retry it under their usual rules. Two ways to feed it:

- :func:`watch_response_bodies`: a requests response hook, for sessions we hold (VIX, and the
  session inside alpaca-py's clients). It reads each body in the pieces the socket delivers,
  so a trickle is seen as it happens, then hands requests the bytes it read.
- :func:`watch_file_growth` / :func:`watch_progress`: for a client that reads on its own
  (Databento streams into a file; its quote is a small answer). A ``SIGALRM`` interval timer
  checks the progress :data:`TICKS_PER_WINDOW` times per window and raises in the main
  thread, which interrupts the blocking read: a window under the floor ends the transfer
  within 5% of the window's end, so an attempt lasts one window (not the two or three a
  check once per window allowed). Off the main thread (or without ``setitimer``) it does
  nothing but log that it cannot watch. What it measures must be the bytes received: a
  file the client writes through a buffer shows 0 while bytes arrive (see
  ``sources/databento/range_stream.py``).
"""

from __future__ import annotations

import io
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

from multigate.config.models import HttpSettings

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
"""Largest piece read at once; a read returns as soon as any bytes are there."""

TICKS_PER_WINDOW = 20
"""Progress checks per window of :func:`watch_progress`: a window that ended under the floor
is noticed at most 1/20 of a window late."""


class StalledTransfer(Exception):
    """A transfer stayed under the minimum rate for a whole window (a broken stream)."""


@dataclass(frozen=True)
class RateFloor:
    """Minimum average rate over each window; 0 bytes per second switches the watch off."""

    bytes_per_second: float
    window_seconds: float

    @classmethod
    def from_http(cls, http: HttpSettings) -> RateFloor:
        return cls(http.min_rate_bytes_per_second, http.min_rate_window_seconds)

    @property
    def enabled(self) -> bool:
        return self.bytes_per_second > 0


class RateWatch:
    """Counts one transfer's bytes in consecutive windows of ``floor.window_seconds``;
    ``received`` is what had arrived before the first window began."""

    def __init__(
        self, floor: RateFloor, clock: Callable[[], float] = time.monotonic, *, received: int = 0
    ) -> None:
        self._floor = floor
        self._clock = clock
        self._window_start = clock()
        self._window_bytes = 0
        self.total = received

    def add(self, count: int) -> None:
        """Record ``count`` more bytes; raise :class:`StalledTransfer` when a window ended
        under the floor."""
        self.total += count
        self._window_bytes += count
        now = self._clock()
        elapsed = now - self._window_start
        if not self._floor.enabled or elapsed < self._floor.window_seconds:
            return
        if self._window_bytes < self._floor.bytes_per_second * elapsed:
            raise StalledTransfer(
                f"transfer stalled: {self._window_bytes} bytes in {elapsed:.1f}s, under the "
                f"minimum of {self._floor.bytes_per_second:g} bytes/s "
                f"({self.total} bytes received in all)"
            )
        self._window_start, self._window_bytes = now, 0


def read_watched(response: requests.Response, watch: RateWatch) -> bytes:
    """The whole body of a ``stream=True`` response, fed to ``watch`` piece by piece.

    urllib3's errors become the requests exceptions ``response.content`` would raise.
    """
    raw = response.raw
    pieces: list[bytes] = []
    try:
        try:
            while piece := raw.read1(READ_SIZE, decode_content=True):
                pieces.append(piece)
                watch.add(len(piece))
        except ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        except ReadTimeoutError as exc:
            raise requests.ConnectionError(exc) from exc
        except SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
    except BaseException:
        response.close()  # a half-read connection is not reused
        raise
    return b"".join(pieces)


def watch_response_bodies(
    floor: RateFloor, clock: Callable[[], float] = time.monotonic
) -> Callable[..., requests.Response]:
    """A response hook (``session.hooks["response"]``) that reads every non-streamed body
    under a :class:`RateWatch`, so ``session.get(...)`` raises :class:`StalledTransfer` on
    a trickle. Streamed requests (``stream=True``) are left to their caller."""

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("stream") or not floor.enabled:
            return response
        body = read_watched(response, RateWatch(floor, clock))
        response.raw = io.BytesIO(body)  # what requests then reads as `response.content`
        return response

    return hook


@contextmanager
def watch_file_growth(path: Path, floor: RateFloor) -> Iterator[None]:
    """While the block runs, raise :class:`StalledTransfer` in it when ``path`` grows by
    less than the floor over a window. The first window starts once ``path`` exists: a
    client that creates its file when the answer's headers arrive is not cut off while it
    waits for them (its own read timeout bounds that wait)."""

    def size() -> int | None:
        try:
            return path.stat().st_size
        except OSError:
            return None

    with watch_progress(size, floor, str(path)):
        yield


@contextmanager
def watch_progress(
    measure: Callable[[], int | None], floor: RateFloor, what: str
) -> Iterator[None]:
    """While the block runs, raise :class:`StalledTransfer` in it when ``measure()`` (bytes
    received so far) grows by less than the floor over a window; windows start at the
    first check where ``measure()`` is not None (the transfer has begun).
    ``measure=lambda: 0`` bounds a call whose answer is small (under rate x window bytes)
    to one window."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not floor.enabled or not usable:
        if floor.enabled:
            log.debug("no transfer-rate watch for %s: not on the main thread", what)
        yield
        return
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        log.debug("no transfer-rate watch for %s: the interval timer is in use", what)
        yield
        return
    seen = measure()
    watch = None if seen is None else RateWatch(floor, received=seen)
    active = True

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        nonlocal seen, watch
        if not active:
            return
        received = measure()
        if received is None:  # not begun: no window yet
            return
        if watch is None or seen is None:  # begun since the last check: first window
            watch, seen = RateWatch(floor, received=received), received
            return
        grown, seen = max(received - seen, 0), max(received, seen)
        watch.add(grown)  # raises once a whole window ended under the floor

    tick = floor.window_seconds / TICKS_PER_WINDOW
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, tick, tick)
    try:
        yield
    finally:
        active = False
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
