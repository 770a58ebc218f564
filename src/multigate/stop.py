"""SIGTERM stops a run as Ctrl-C does.

The handler raises ``Terminated`` (a KeyboardInterrupt, so every ``except
KeyboardInterrupt`` that keeps paid bytes or removes a partial file applies) and also
remembers the request: third-party code (a C extension, a finalizer) can swallow an
exception raised inside it, so paid work checks ``raise_if_stopped()`` before each billable
call and after each transfer, and the CLI checks ``stop_requested()`` before it reports.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_requested = threading.Event()


class Terminated(KeyboardInterrupt):
    """The run was asked to stop by SIGTERM."""


def stop_requested() -> bool:
    return _requested.is_set()


def raise_if_stopped() -> None:
    """Raise ``Terminated`` if a SIGTERM arrived (even one whose exception was swallowed)."""
    if _requested.is_set():
        raise Terminated()


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into ``Terminated`` for the block (main thread only; elsewhere a no-op)."""

    def terminate(signum: int, frame: FrameType | None) -> None:
        _requested.set()
        raise Terminated()

    _requested.clear()
    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
