"""Ctrl-C and SIGTERM stop a run the same way.

Each signal's handler raises (``KeyboardInterrupt`` for Ctrl-C, ``Terminated`` -- a
KeyboardInterrupt -- for SIGTERM, so every ``except KeyboardInterrupt`` that keeps paid
bytes or removes a partial file applies) and also remembers the request: an exception
raised inside a finalizer or a C extension can be swallowed there, so paid work checks
``raise_if_stopped()`` before each billable call and after each transfer, and the CLI
checks ``stop_requested()`` before it reports. A swallowed one is not printed as a
traceback.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

_requested: list[int] = []  # the signals received while stop_on_signals() is active


class Terminated(KeyboardInterrupt):
    """The run was asked to stop by SIGTERM."""


def stop_requested() -> bool:
    return bool(_requested)


def raise_if_stopped() -> None:
    """Raise as the first stop signal did, if one arrived (even if its exception was lost)."""
    if _requested:
        raise Terminated() if _requested[0] == signal.SIGTERM else KeyboardInterrupt()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """For the block, Ctrl-C raises KeyboardInterrupt and SIGTERM raises Terminated, and
    both are remembered (main thread only; elsewhere a no-op)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        _requested.append(signum)
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    def quiet_if_stopping(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous_hook(unraisable)

    _requested.clear()
    previous: dict[int, Callable[..., Any] | int | None] = {}
    try:
        for caught in (signal.SIGINT, signal.SIGTERM):
            previous[caught] = signal.signal(caught, stop)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    previous_hook = sys.unraisablehook
    sys.unraisablehook = quiet_if_stopping
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for restored, handler in previous.items():
            signal.signal(restored, signal.SIG_DFL if handler is None else handler)
