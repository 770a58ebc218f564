"""Errors raised by the Databento DBN converter."""

from __future__ import annotations

from pathlib import Path


class DbnFileError(Exception):
    """A DBN input file could not be read or converted.

    The message always names the offending file. The integrator may re-parent this
    class onto the project-wide error hierarchy.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
