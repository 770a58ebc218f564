"""Errors of the read side: a dataset, snapshot or filter the catalog cannot serve."""

from __future__ import annotations

from collections.abc import Iterable

from multigate.errors import IngestError


class CatalogError(IngestError):
    """A read the catalog cannot serve (unknown dataset, bad filter, missing snapshot)."""


class UnknownDataset(CatalogError):
    """No dataset of that name; the message lists the known ones."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        names = sorted(known)
        listed = ", ".join(names) if names else "none (run an ingest first)"
        super().__init__(f"unknown dataset '{name}'; known datasets: {listed}")
        self.name = name
        self.known = names
