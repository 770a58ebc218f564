"""Raw storage of vendor bars: gzip JSON shaped like the API body, byte-deterministic."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from multigate.storage.atomic import write_bytes_atomic

RAW_SUFFIX = ".json.gz"


def raw_body(bars_by_symbol: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """The API body shape `{"bars": {...}, "next_page_token": null}`."""
    return {
        "bars": {symbol: [dict(bar) for bar in bars] for symbol, bars in bars_by_symbol.items()},
        "next_page_token": None,
    }


def encode_raw_bars(bars_by_symbol: Mapping[str, Sequence[Mapping[str, Any]]]) -> bytes:
    """Deterministic gzip bytes: sorted keys, compact separators, gzip mtime 0, no name."""
    text = json.dumps(
        raw_body(bars_by_symbol),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)


def write_raw_bars(
    path: str | os.PathLike[str], bars_by_symbol: Mapping[str, Sequence[Mapping[str, Any]]]
) -> Path:
    """Write bars as gzip JSON atomically (temp file + rename); returns the path.

    Bar order within each symbol is kept as given (the vendor's order).
    """
    target = Path(path)
    write_bytes_atomic(target, encode_raw_bars(bars_by_symbol))
    return target


def parse_json_body(data: bytes | str) -> Any:
    """Parse a JSON body; ValueError (never RecursionError or UnicodeEncodeError later) if it
    is not JSON, is nested too deeply to read, or holds a string that is not Unicode text
    (a lone surrogate escape such as ``"\\ud800"``, which could never be stored)."""
    try:
        body = json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None
    require_unicode(body)
    return body


def require_unicode(body: Any) -> None:
    """ValueError unless every string of `body` (keys included) encodes as UTF-8."""
    try:
        json.dumps(body, ensure_ascii=False, check_circular=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end].encode("utf-8", "backslashreplace").decode()
        raise ValueError(f"a string holds {bad}, which is not Unicode text") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None


def load_json_body(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file, gunzipping it if it starts with the gzip magic bytes."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: corrupt gzip data ({exc})") from None
    try:
        return parse_json_body(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def bars_from_body(
    body: Any, source: str, symbol: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Bars keyed by symbol from an API body: multi-symbol `{"bars": {sym: [...]}}` or
    single-symbol `{"bars": [...], "symbol": "AAPL"}` (symbol from the body or argument)."""
    if not isinstance(body, dict) or "bars" not in body:
        raise ValueError(f"{source}: not an Alpaca bars body (no top-level 'bars' key)")
    bars = body["bars"]
    if bars is None:
        return {}
    if isinstance(bars, dict):
        if not all(isinstance(v, list) for v in bars.values()):
            raise ValueError(f"{source}: 'bars' must map each symbol to a list of bars")
        return {str(k): list(v) for k, v in bars.items()}
    if isinstance(bars, list):
        name = body.get("symbol") or symbol
        if not name:
            raise ValueError(f"{source}: single-symbol bars body without 'symbol'; pass symbol=...")
        return {str(name): list(bars)} if bars else {}
    raise ValueError(f"{source}: 'bars' must be an object or a list")


def read_raw_bars(path: str | os.PathLike[str]) -> dict[str, list[dict[str, Any]]]:
    """Read back what `write_raw_bars` wrote (or any Alpaca bars body, gzip or not)."""
    return bars_from_body(load_json_body(path), str(path))
