"""The command's entry point, kept free of heavy imports: Ctrl-C at any moment, even while
the CLI's dependencies are being imported, ends the run with status 130 and one line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

INTERRUPTED = 130  # ExitCode.INTERRUPTED, without importing anything before the guard


def start(argv: Sequence[str] | None = None) -> int:
    """Import the CLI and run it; a KeyboardInterrupt anywhere is a quiet exit 130."""
    try:
        from multigate.cli import main

        return main(argv)
    except KeyboardInterrupt:
        print("interrupted while starting: nothing ran", file=sys.stderr)
        return INTERRUPTED


def run() -> None:
    """Console entry point (``multigate-ingest``), the same as ``python -m scripts.ingest``."""
    sys.exit(start())
