"""The one error tree of Multigate.

::

    IngestError                      root: everything we raise on purpose
    ├── ConfigError                  ingest.yaml is missing or wrong (file, line, key)
    │   └── JobKeyError              a job's key names what cannot work (a missing input)
    ├── GuardrailRefused             a cost cap or a confirmation said no; nothing was spent
    ├── VendorError                  a vendor answered badly (retryable tells whether to try again)
    │   └── KeyRefused               401/403: the API key was refused (the key is never shown)
    ├── DataError                    input data that cannot be converted (names the file)
    └── LocalWriteError              the local disk refused a write (full, read-only, ...)

Only the CLI catches broadly; it maps each branch to a documented exit code.
"""

from __future__ import annotations


class IngestError(Exception):
    """Root of every error Multigate raises on purpose."""


class ConfigError(IngestError):
    """The configuration is missing, malformed or invalid."""


class JobKeyError(ConfigError):
    """A job's key whose value cannot work, found after loading (a path that does not
    exist). ``key`` lets the CLI point at its line in the config."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class GuardrailRefused(IngestError):
    """A paid download was refused before any money was spent."""


class VendorError(IngestError):
    """A vendor request failed. ``retryable`` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class KeyRefused(VendorError):
    """The vendor refused the API key (401/403)."""


class DataError(IngestError):
    """An input file cannot be converted."""


class LocalWriteError(IngestError):
    """The local disk refused to store a file (full, read-only, permissions, quota, size
    limit). Never retried: trying again cannot help, and a paid download would be billed
    again."""
