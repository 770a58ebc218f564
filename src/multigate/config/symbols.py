"""Config symbols, read the way the vendors' clients send them: split on commas, stripped,
case normalised (instrument ids read as integers); a symbol given twice in any spelling
would be bought twice, so it is an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

_UNSAFE_SYMBOL_CHARS = ("\\", "\x00", "\n", "\r", "\t")


def check_symbol(value: str) -> str:
    """A vendor symbol: non-empty, no path traversal. '/' is allowed (``BTC/USD``);
    storage layouts encode symbols before using them in paths."""
    if not value.strip() or value in (".", "..") or ".." in value.split("/"):
        raise ValueError(f"'{value}' is not a valid symbol")
    if any(ch in value for ch in _UNSAFE_SYMBOL_CHARS) or value.startswith("/"):
        raise ValueError(f"{value!r} is not a valid symbol (path separators are not allowed)")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise ValueError(f"{value!r} is not a valid symbol (it holds control characters)")
    return value


def split_symbols(values: list[str]) -> list[tuple[int, str]]:
    """Each entry stripped and split on commas, as the vendors' clients send it (they join a
    list with commas, or split a string on them): ``'aapl, MSFT'`` is two symbols. Returns
    ``(index of the entry, symbol)`` pairs."""
    parts: list[tuple[int, str]] = []
    for index, value in enumerate(values):
        for part in value.strip().strip(",").split(","):
            parts.append((index, check_symbol(part.strip())))
    return parts


def normalise_symbols(values: list[str], case: Callable[[str], str]) -> list[str]:
    """Split and strip ``values`` like the vendor's client, apply its ``case`` rule to each
    symbol, and refuse duplicates of the result: the vendor would be asked, and paid, twice
    for the same data."""
    first: dict[str, int] = {}
    result = []
    for index, part in split_symbols(values):
        symbol = case(part)
        if symbol in first:
            a, b = values[first[symbol]], values[index]
            if first[symbol] == index:
                same = f"'{b}' gives"
            elif a == b:
                same = f"'{b}' is listed twice: it gives"
            else:
                same = f"'{a}' and '{b}' both give"
            raise ValueError(
                f"{same} the symbol '{symbol}' twice (as the vendor reads it: split on "
                "commas, stripped, case normalised, ids as integers); list each symbol once"
            )
        first[symbol] = index
        result.append(symbol)
    return result


def _upper_symbols(values: list[str]) -> list[str]:
    return normalise_symbols(values, str.upper)


def _as_given(values: list[str]) -> list[str]:
    return normalise_symbols(values, lambda value: value)


def _number_as_text(value: object) -> object:
    """``symbols: [4916]`` (instrument ids) means the text "4916"."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


__all__ = [
    "Symbol",
    "SymbolEntries",
    "SymbolList",
    "UpperSymbolList",
    "check_symbol",
    "normalise_symbols",
    "split_symbols",
]

Symbol = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(check_symbol)]
SymbolList = Annotated[list[Symbol], Field(min_length=1), AfterValidator(_as_given)]
"""One or more symbols (commas split, spaces stripped, case kept), none twice."""
SymbolEntries = Annotated[list[Symbol], Field(min_length=1)]
"""Symbols as written, for a vendor whose case rule depends on other keys (Databento's
``stype_in``): it must call :func:`normalise_symbols` itself."""
UpperSymbolList = Annotated[list[Symbol], Field(min_length=1), AfterValidator(_upper_symbols)]
"""Like SymbolList, upper-cased: for vendors whose symbols are all upper case."""
