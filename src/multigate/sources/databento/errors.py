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

    def __reduce__(self) -> tuple[type[DbnFileError], tuple[Path, str]]:
        """Travels back from a worker process whole (pickled by its own two arguments)."""
        return (type(self), (self.path, self.reason))
