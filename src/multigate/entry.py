"""The command's entry point, kept free of heavy imports: Ctrl-C at any moment, even while
the CLI's dependencies are being imported, ends the run with status 130 and one line."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from types import FrameType

from multigate.stop import Terminated  # standard library only

INTERRUPTED = 130  # ExitCode.INTERRUPTED, without importing anything before the guard
TERMINATED = 143  # ExitCode.TERMINATED


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def start(argv: Sequence[str] | None = None, *, console: bool = False) -> int:
    """Import the CLI and run it; a KeyboardInterrupt anywhere is a quiet exit 130, and
    SIGTERM before the run's own handlers are set a quiet exit 143 (not a kill, -15).
    ``console``: the ``multigate`` command (else ``python -m scripts.ingest``)."""
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: the caller owns the signals
        pass
    try:
        if console:
            from multigate.console import main as console_main

            return console_main(argv)
        from multigate.cli import main

        return main(argv)
    except Terminated:
        print("terminated while starting: nothing ran", file=sys.stderr)
        return TERMINATED
    except KeyboardInterrupt:
        print("interrupted while starting: nothing ran", file=sys.stderr)
        return INTERRUPTED


def run() -> None:
    """Console entry point (``multigate-ingest``), the same as ``python -m scripts.ingest``."""
    sys.exit(start())


def run_console() -> None:
    """Console entry point ``multigate``, guarded as ``run`` is while it starts."""
    sys.exit(start(console=True))
