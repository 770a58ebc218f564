"""Errors raised by the Databento DBN converter."""

from __future__ import annotations

from pathlib import Path

from multigate.errors import DataError


class DbnFileError(DataError):
    """A DBN input file could not be read or converted.

    The message always names the offending file.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
