"""Output into a pipe whose reader stopped early (``multigate ls | head -1``).

Like the command-line tools a shell kills with SIGPIPE, the command stops quietly with
status 141 (128 + 13, what the shell reports for them). Standard output is pointed at
the null device first, so Python's final flush cannot complain again at exit.
"""

from __future__ import annotations

import os
import sys

from multigate.exit_codes import ExitCode


def stop_quietly() -> int:
    """Call on BrokenPipeError from standard output; returns the status to exit with."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a descriptor (replaced in-process)
        sys.stdout = open(os.devnull, "w")  # lives until exit, as stdout does
    finally:
        os.close(devnull)
    return ExitCode.STDOUT_CLOSED
