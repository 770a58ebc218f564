"""Source name -> source class. Adding a vendor = adding its package and one line here."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multigate.sources.base import Source

_SOURCES: dict[str, str] = {
    "vix": "multigate.sources.vix.source:VixSource",
    "alpaca": "multigate.sources.alpaca.source:AlpacaSource",
    "databento": "multigate.sources.databento.source:DatabentoSource",
}


def known_sources() -> list[str]:
    return list(_SOURCES)


def source_class(name: str) -> type[Source]:
    """Import and return the class registered for ``name`` (KeyError if unknown)."""
    module_name, class_name = _SOURCES[name].split(":")
    cls: type[Source] = getattr(import_module(module_name), class_name)
    return cls
