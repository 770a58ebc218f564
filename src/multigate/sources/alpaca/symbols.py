"""Make vendor symbols (e.g. crypto 'BTC/USD') safe and reversible as path components."""

from __future__ import annotations

import string
from collections.abc import Iterable

# Characters kept literally. '-' is not among them: it stands for '/', so that the common
# crypto pair 'BTC/USD' reads as 'BTC-USD'. Anything else is percent-encoded (%XX, UTF-8).
_SAFE = frozenset(string.ascii_letters + string.digits + "._")


def _check(symbol: str) -> None:
    if not isinstance(symbol, str) or symbol == "":
        raise ValueError(f"symbol must be a non-empty string, got {symbol!r}")
    if symbol in (".", ".."):
        raise ValueError(f"symbol {symbol!r} is not allowed as a path component")
    if "\x00" in symbol or "\\" in symbol:
        raise ValueError(f"symbol {symbol!r} contains a NUL byte or backslash")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in symbol):
        raise ValueError(f"symbol {symbol!r} contains control characters")


def check_symbols(symbols: Iterable[object], source: str) -> None:
    """Every symbol found in an offline file is usable as a path component; raise ValueError
    naming the file (``source``) and the first symbol that is not."""
    for symbol in symbols:
        if isinstance(symbol, str) and symbol == "":
            continue  # the reader reports empty symbols with its own message
        try:
            _check(symbol)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None


def symbol_path_component(symbol: str) -> str:
    """'BTC/USD' -> 'BTC-USD', 'BRK.B' -> 'BRK.B'; other characters become %XX.

    Reversible with `symbol_from_path_component`. Rejects '', '.', '..', NUL, backslash and
    control characters with ValueError.
    """
    _check(symbol)
    out: list[str] = []
    for ch in symbol:
        if ch in _SAFE:
            out.append(ch)
        elif ch == "/":
            out.append("-")
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8"))
    return "".join(out)


def symbol_from_path_component(component: str) -> str:
    """Inverse of `symbol_path_component`."""
    raw = bytearray()
    i = 0
    while i < len(component):
        ch = component[i]
        if ch == "%":
            hex_part = component[i + 1 : i + 3]
            if len(hex_part) != 2 or any(c not in string.hexdigits for c in hex_part):
                raise ValueError(f"bad percent escape in path component {component!r}")
            raw.append(int(hex_part, 16))
            i += 3
            continue
        if ch == "-":
            raw.extend(b"/")
        elif ch in _SAFE:
            raw.extend(ch.encode("ascii"))
        else:
            raise ValueError(f"{component!r} is not an encoded symbol (char {ch!r})")
        i += 1
    symbol = raw.decode("utf-8")
    _check(symbol)
    return symbol
