"""A process pool's forkserver preloads each running source's convert module: the registry
must name the module the source's tasks take their convert functions from."""

from __future__ import annotations

from importlib import import_module

import pytest

from multigate.sources.registry import convert_modules

USED = {  # the convert function each source's tasks run, by the name its module imports
    "vix": ("multigate.sources.vix.source", "convert_symbol"),
    "alpaca": ("multigate.sources.alpaca.source", "convert_symbol"),
    "databento": ("multigate.sources.databento.source", "split_dbn_file"),
}


@pytest.mark.parametrize("source", sorted(USED))
def test_the_registry_names_the_module_of_each_sources_convert_function(source: str) -> None:
    module, name = USED[source]
    function = getattr(import_module(module), name)
    assert convert_modules([source]) == [function.__module__]


def test_convert_modules_lists_each_module_once() -> None:
    assert convert_modules(["vix", "databento", "vix"]) == [
        "multigate.sources.databento.convert_task",
        "multigate.sources.vix.convert",
    ]
