"""Source name -> config model, source class and convert module. Adding a vendor = its
package and one entry here.

All are named by import path and imported on demand: loading a config imports only the
vendor's ``config`` module (plain pydantic, never the vendor SDK), and a run imports only the
sources it has jobs for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import import_module
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from multigate.config.models import SourceConfig
    from multigate.sources.base import Source


class _Entry(NamedTuple):
    config_model: str
    source_class: str
    convert_module: str
    """Where the source's convert functions live (a process pool's workers import it)."""
    paid: bool = False
    """Whether its downloads cost money (they and its ledger are never deleted by a run)."""
    adjustment_events: str | None = None
    """``module:function`` turning a dataset of its corporate actions into the events the
    catalog adjusts prices with (``multigate.backtest.adjust``); None: it has none."""


_SOURCES: dict[str, _Entry] = {
    "vix": _Entry(
        "multigate.sources.vix.config:VixSourceConfig",
        "multigate.sources.vix.source:VixSource",
        "multigate.sources.vix.convert",
    ),
    "alpaca": _Entry(
        "multigate.sources.alpaca.config:AlpacaSourceConfig",
        "multigate.sources.alpaca.source:AlpacaSource",
        "multigate.sources.alpaca.convert",
        adjustment_events="multigate.sources.alpaca.corporate_actions:adjustment_events",
    ),
    "databento": _Entry(
        "multigate.sources.databento.config:DatabentoSourceConfig",
        "multigate.sources.databento.source:DatabentoSource",
        "multigate.sources.databento.convert_task",
        paid=True,
        adjustment_events="multigate.sources.databento.reference_events:adjustment_events",
    ),
}


def known_sources() -> list[str]:
    return list(_SOURCES)


def paid_raw_prefixes() -> tuple[str, ...]:
    """Where, relative to a data folder, the raw files of paid sources (and their ledgers)
    are: ``("raw/databento/",)``."""
    return tuple(f"raw/{name}/" for name, entry in _SOURCES.items() if entry.paid)


def _load(target: str) -> object:
    module_name, attribute = target.split(":")
    return getattr(import_module(module_name), attribute)


def config_model(name: str) -> type[SourceConfig]:
    """The config model of source ``name`` (KeyError if unknown); imports no vendor SDK."""
    model: type[SourceConfig] = _load(_SOURCES[name].config_model)  # type: ignore[assignment]
    return model


def source_class(name: str) -> type[Source]:
    """Import and return the class registered for ``name`` (KeyError if unknown)."""
    cls: type[Source] = _load(_SOURCES[name].source_class)  # type: ignore[assignment]
    return cls


def convert_modules(names: Iterable[str]) -> list[str]:
    """The convert modules of sources ``names`` (not imported here)."""
    return sorted({_SOURCES[name].convert_module for name in names})


def adjustment_events(name: str) -> Callable[..., Any] | None:
    """The function turning source ``name``'s corporate-action datasets into adjustment
    events, or None when the source has none (KeyError if unknown)."""
    target = _SOURCES[name].adjustment_events
    if target is None:
        return None
    function: Callable[..., Any] = _load(target)  # type: ignore[assignment]
    return function
