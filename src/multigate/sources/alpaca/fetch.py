"""Fetch vendor-native bar dicts through alpaca-py's historical data clients."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.requests import CryptoBarsRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from multigate.sources.alpaca.bars_check import (
    PageGuard,
    bar_times,
    check_near_window,
    in_window,
)
from multigate.sources.alpaca.bars_convert import bars_to_table
from multigate.sources.alpaca.client import RetryingCryptoClient, RetryingStockClient
from multigate.sources.alpaca.errors import AlpacaBadAnswer, AlpacaError
from multigate.sources.alpaca.timeframe import (
    longest_bar_span,
    parse_timeframe,
    shortest_bar_span,
)
from multigate.time_chunks import Chunk, as_utc

BarDict = dict[str, Any]
BarsBySymbol = dict[str, list[BarDict]]


def _enum_value(enum: type[Adjustment] | type[DataFeed], value: str, what: str) -> Any:
    try:
        return enum(value.lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValueError(f"invalid {what} {value!r}; use one of: {allowed}") from None


def parse_bar_time(text: str) -> datetime:
    """RFC 3339 bar time ('2022-02-01T05:00:00Z', maybe with up to 9 fraction digits)."""
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return as_utc(datetime.fromisoformat(text))


def _validate_symbols(symbols: Sequence[str]) -> list[str]:
    if isinstance(symbols, str):
        symbols = [symbols]
    cleaned = [s.strip() for s in symbols]
    if not cleaned or any(not s for s in cleaned):
        raise ValueError(f"need at least one non-empty symbol, got {list(symbols)!r}")
    if len(set(cleaned)) != len(cleaned):
        raise ValueError(f"duplicate symbols in {cleaned!r}")
    if any("," in s for s in cleaned):
        raise ValueError(f"symbols must not contain commas: {cleaned!r}")
    return cleaned


def fetch_bars(
    client: RetryingStockClient | RetryingCryptoClient,
    symbols: Sequence[str],
    timeframe: str | TimeFrame,
    start: datetime,
    end: datetime,
    *,
    adjustment: str | None = None,
    feed: str | None = None,
) -> BarsBySymbol:
    """Bars for `symbols` with start <= t < end, as the vendor's dicts keyed by symbol.

    alpaca-py follows `next_page_token`; every page is checked before alpaca-py reads it
    (see bars_check: shape, values, no repeated token, no more pages or bars than the range
    can hold, only symbols asked for, no key twice in one object), and the bars returned
    must equal the sum of the bars on every page served. Two bars of a symbol at one time,
    a time without a zone, or a bar more than one bar's span outside [start, end] fail the
    whole request.
    Alpaca treats `end` as inclusive, so a bar stamped exactly `end` is dropped here:
    adjacent chunks [a, b) and [b, c) never share a bar. Symbols without bars are absent
    from the result (keys spelt as the vendor does). Naive datetimes are taken as UTC.
    `adjustment` (raw|split|dividend|all) and `feed` (iex|sip|delayed_sip|otc|...) apply
    to stocks only. Raises AlpacaError subclasses on HTTP failures and AlpacaBadAnswer
    (naming the symbols and the range) on an answer that cannot be trusted.
    """
    wanted = _validate_symbols(symbols)
    tf = parse_timeframe(timeframe)
    start_utc, end_utc = as_utc(start), as_utc(end)
    if end_utc <= start_utc:
        raise ValueError(f"end {end_utc.isoformat()} must be after start {start_utc.isoformat()}")
    fields: dict[str, Any] = {
        "symbol_or_symbols": wanted,
        "timeframe": tf,
        "start": start_utc,
        "end": end_utc,
    }
    client.pages = PageGuard.for_range(wanted, start_utc, end_utc, shortest_bar_span(tf))
    try:
        return _request_bars(client, fields, adjustment, feed, start_utc, end_utc, tf)
    except AlpacaBadAnswer as exc:
        raise AlpacaBadAnswer(
            f"Alpaca bars for {','.join(wanted)} "
            f"{start_utc:%Y-%m-%d %H:%M}..{end_utc:%Y-%m-%d %H:%M} UTC: {exc}; "
            "nothing of this chunk was stored, the next run asks again"
        ) from None


def _request_bars(
    client: RetryingStockClient | RetryingCryptoClient,
    fields: dict[str, Any],
    adjustment: str | None,
    feed: str | None,
    start_utc: datetime,
    end_utc: datetime,
    tf: TimeFrame,
) -> BarsBySymbol:
    if isinstance(client, RetryingStockClient):
        if adjustment is not None:
            fields["adjustment"] = _enum_value(Adjustment, adjustment, "adjustment")
        if feed is not None:
            fields["feed"] = _enum_value(DataFeed, feed, "feed")
        raw = client.get_stock_bars(StockBarsRequest(**fields))
    elif isinstance(client, RetryingCryptoClient):
        if adjustment is not None or feed is not None:
            raise ValueError("adjustment and feed apply to stock bars only, not crypto")
        raw = client.get_crypto_bars(CryptoBarsRequest(**fields))
    else:
        raise TypeError(f"expected a RetryingStockClient or RetryingCryptoClient, got {client!r}")

    if not isinstance(raw, dict):
        raise AlpacaError(f"unexpected bars payload type {type(raw).__name__}")
    returned = sum(len(bars) for bars in raw.values())
    if returned != client.pages.bars:
        raise AlpacaError(
            f"pagination lost bars: pages served {client.pages.bars} bars, "
            f"client returned {returned}"
        )
    result: BarsBySymbol = {}
    for symbol, bars in raw.items():
        stamps = bar_times(bars, symbol)
        window = Chunk(start_utc, end_utc)
        check_near_window(stamps, window, longest_bar_span(tf), symbol)
        inside = in_window(stamps, window).to_pylist()
        kept = [bar for bar, keep in zip(bars, inside, strict=True) if keep]
        if kept:
            try:  # what is stored must convert: prove it before it is stored
                bars_to_table({symbol: kept}, symbol)
            except ValueError as exc:
                raise AlpacaBadAnswer(str(exc)) from None
            result[symbol] = kept
    return result
