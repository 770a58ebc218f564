"""Multigate: vendor market data in, clean Parquet out; ``Catalog`` reads it back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multigate.catalog import Catalog

__all__ = ["Catalog"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so the ingest CLI does not load the read side.
    if name == "Catalog":
        from multigate.catalog import Catalog

        return Catalog
    raise AttributeError(f"module 'multigate' has no attribute {name!r}")
