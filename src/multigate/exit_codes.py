"""Exit statuses of ``python -m scripts.ingest`` (documented in the README and ``--help``)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Every selected job succeeded or was already up to date."""
    JOB_FAILED = 1
    """At least one job failed."""
    CONFIG_ERROR = 2
    """The config (or the command line) is invalid; nothing ran."""
    GUARDRAIL_REFUSED = 3
    """A cost guardrail refused at least one job; nothing was spent on it."""
    LOCKED = 4
    """Another run is using the same data folder; nothing ran."""
    QUALITY_FAILED = 5
    """``--strict``: a quality check that fails strict found something (no data was dropped)."""
    INTERRUPTED = 130
    """Interrupted by Ctrl-C; finished files and received (paid) downloads are kept,
    other partial files removed."""
    STDOUT_CLOSED = 141
    """The reader of standard output stopped early (``| head``): a quiet stop, as a shell
    reports a tool ended by SIGPIPE (128 + 13)."""
    TERMINATED = 143
    """Stopped by SIGTERM, as Ctrl-C stops a run (128 + 15, what a shell reports)."""
