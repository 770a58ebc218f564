"""Errors of the read side: a dataset, snapshot or filter the catalog cannot serve."""

from __future__ import annotations

from collections.abc import Iterable

from multigate.errors import IngestError


class CatalogError(IngestError):
    """A read the catalog cannot serve (unknown dataset, bad filter, missing snapshot)."""


class DamagedTable(CatalogError):
    """A dataset's table whose log or files cannot be read (a file, not a bad request)."""


class UnknownDataset(CatalogError):
    """No dataset of that name; the message lists the known ones."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        names = sorted(known)
        listed = ", ".join(names) if names else "none (run an ingest first)"
        super().__init__(f"unknown dataset '{name}'; known datasets: {listed}")
        self.name = name
        self.known = names


class UnknownSymbols(CatalogError):
    """Symbols asked for that the dataset does not hold (``allow_missing`` reads the rest)."""

    def __init__(self, name: str, unknown: Iterable[str], known: Iterable[str]) -> None:
        missing, names = sorted(unknown), sorted(known)
        shown = ", ".join(names[:20]) + (f" ... ({len(names)} in all)" if len(names) > 20 else "")
        super().__init__(
            f"{name}: unknown symbol(s) {', '.join(missing)} (the dataset holds "
            f"{shown or 'no symbols'}); allow_missing=True (--allow-missing) reads the others"
        )
        self.unknown = missing
