"""Check what Alpaca answers before any of it is stored.

Every page is checked as it arrives (:class:`PageGuard`, called by the client for each
HTTP answer, before alpaca-py reads it): a JSON object whose `bars` maps each symbol to a
list of bar objects, each with a string `t` and finite numbers `o h l c v` (`n`, `vw` may
be absent or null); a `next_page_token` never seen before in the same request; no more
pages and bars than the requested range can hold; bars only of the symbols asked for.
:func:`bar_times` then checks a symbol's bars of the whole request: every `t` an instant
with a zone (parsed exactly as the converter parses it) and no two bars at one time, and
:func:`check_near_window` that none lies farther than one bar outside the range asked for.
Failures raise :class:`AlpacaBadAnswer`: nothing of the chunk is stored, and the next run
asks again. (A JSON object holding a key twice is refused where the body is parsed.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from multigate.sources.alpaca.errors import AlpacaBadAnswer
from multigate.time_chunks import Chunk

REQUIRED_VALUES = ("o", "h", "l", "c", "v")
OPTIONAL_VALUES = ("n", "vw")
# alpaca-py's other market-data keys: a body holding one beside `bars` makes it raise.
OTHER_DATA_KEYS = frozenset(
    {"bar", "corporate_actions", "news", "orderbook", "orderbooks", "quote", "quotes"}
    | {"snapshot", "snapshots", "trade", "trades"}
)
PAGE_LIMIT = 10_000  # bars per page alpaca-py asks for
PAGE_SLACK = 10  # pages allowed beyond what the range can fill at PAGE_LIMIT bars a page


def _kind(value: object) -> str:
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), f"a {type(value).__name__}")


def _is_finite_number(value: object) -> bool:
    """A JSON number the converter reads as a finite float64 (an integer must fit int64)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


def check_bar(bar: object, symbol: str, index: int) -> None:
    """One vendor bar: an object with a string `t` and finite numbers `o h l c v`."""
    where = f"{symbol} bar {index}"
    if not isinstance(bar, dict):
        raise AlpacaBadAnswer(f"{where} is {_kind(bar)}, not an object")
    if not isinstance(bar.get("t"), str):
        what = "missing" if "t" not in bar else _kind(bar["t"])
        raise AlpacaBadAnswer(f"{where}: time 't' is {what}, not an RFC 3339 string")
    for key in REQUIRED_VALUES:
        if not _is_finite_number(bar.get(key)):
            what = "missing" if key not in bar else repr(bar[key])
            raise AlpacaBadAnswer(f"{where} at {bar['t']}: '{key}' is {what}, not a finite number")
    for key in OPTIONAL_VALUES:
        value = bar.get(key)
        if value is not None and not _is_finite_number(value):
            raise AlpacaBadAnswer(
                f"{where} at {bar['t']}: '{key}' is {value!r}, not a finite number or null"
            )


def check_page(body: object) -> int:
    """A multi-symbol bars page `{"bars": {symbol: [bar, ...]}, "next_page_token": ...}`;
    returns how many bars it holds."""
    if body is None:
        raise AlpacaBadAnswer("the answer is empty or null, not a bars object")
    if not isinstance(body, dict):
        raise AlpacaBadAnswer(f"the answer is {_kind(body)}, not a bars object")
    if "bars" not in body:
        raise AlpacaBadAnswer(f"the answer has no 'bars' (keys: {sorted(map(str, body))})")
    others = sorted(OTHER_DATA_KEYS.intersection(body))
    if others:
        raise AlpacaBadAnswer(f"the answer holds {others} beside 'bars'")
    bars = body["bars"]
    if not isinstance(bars, dict):
        raise AlpacaBadAnswer(f"'bars' is {_kind(bars)}, not an object keyed by symbol")
    token = body.get("next_page_token")
    if token is not None and (not isinstance(token, str) or not token):
        raise AlpacaBadAnswer(f"'next_page_token' is {token!r}, not a non-empty string or null")
    count = 0
    for symbol, items in bars.items():
        if not isinstance(items, list):
            raise AlpacaBadAnswer(f"bars of {symbol} are {_kind(items)}, not a list")
        for index, bar in enumerate(items):
            check_bar(bar, symbol, index)
        count += len(items)
    return count


def range_capacity(symbols: int, start: datetime, end: datetime, span: timedelta) -> int:
    """Most bars `symbols` symbols can have in [start, end] (Alpaca's end is inclusive),
    at one bar per `span`, plus one spare per symbol for bars stamped off the grid."""
    return symbols * (math.ceil((end - start) / span) + 2)


@dataclass
class PageGuard:
    """Pagination of one request: counts pages and bars, refuses loops and overflows."""

    max_bars: int | None = None
    max_pages: int | None = None
    symbols: frozenset[str] | None = None
    """The symbols asked for (None: any); bars of another symbol are a wrong answer."""
    pages: int = 0
    bars: int = 0
    tokens: set[str] = field(default_factory=set)

    @classmethod
    def for_range(
        cls, symbols: list[str], start: datetime, end: datetime, span: timedelta
    ) -> PageGuard:
        capacity = range_capacity(len(symbols), start, end, span)
        return cls(
            max_bars=capacity,
            max_pages=math.ceil(capacity / PAGE_LIMIT) + PAGE_SLACK,
            symbols=frozenset(symbols),
        )

    def accept(self, body: object) -> None:
        """Check one page as it arrives (raises AlpacaBadAnswer)."""
        self.pages += 1
        where = f"page {self.pages}"
        try:
            count = check_page(body)
        except AlpacaBadAnswer as exc:
            raise AlpacaBadAnswer(f"{where}: {exc}") from None
        assert isinstance(body, dict)
        if self.symbols is not None:
            others = sorted(str(symbol) for symbol in body["bars"] if symbol not in self.symbols)
            if others:
                raise AlpacaBadAnswer(
                    f"{where} holds bars of {', '.join(others)}, not asked for "
                    f"(asked: {', '.join(sorted(self.symbols))})"
                )
        self.bars += count
        if self.max_bars is not None and self.bars > self.max_bars:
            raise AlpacaBadAnswer(
                f"{where}: {self.bars} bars served, more than the range can hold ({self.max_bars})"
            )
        token = body.get("next_page_token")
        if token is None:
            return
        if token in self.tokens:
            raise AlpacaBadAnswer(f"{where}: next_page_token {token[:40]!r} repeats (a page loop)")
        self.tokens.add(token)
        if self.max_pages is not None and self.pages >= self.max_pages:
            raise AlpacaBadAnswer(
                f"{where}: still more pages after {self.pages}, far more than the range can "
                f"fill ({self.max_bars} bars at {PAGE_LIMIT} a page)"
            )


def bar_times(bars: list[dict[str, Any]], symbol: str) -> pa.Array:
    """The bars' times as UTC instants, parsed as the converter parses them; a time without
    a zone, one that is not a time, or two bars at one time raise AlpacaBadAnswer."""
    try:
        stamps = pc.cast(
            pa.array([bar["t"] for bar in bars], pa.string()), pa.timestamp("ns", tz="UTC")
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise AlpacaBadAnswer(
            f"{symbol}: a bar time is not an instant with a zone ({exc})"
        ) from None
    if len(pc.unique(stamps)) != len(stamps):
        counts = pc.value_counts(stamps)
        repeated = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"]
        raise AlpacaBadAnswer(f"{symbol}: two bars at one time ({repeated})")
    return stamps


def in_window(stamps: pa.Array | pa.ChunkedArray, window: Chunk) -> pa.Array:
    """Which of `stamps` lie in the half-open window [start, end)."""
    return pc.and_(
        pc.greater_equal(stamps, pa.scalar(window.start, stamps.type)),
        pc.less(stamps, pa.scalar(window.end, stamps.type)),
    )


def check_near_window(stamps: pa.Array, window: Chunk, slack: timedelta, symbol: str) -> None:
    """No bar lies more than ``slack`` (one bar's longest span) outside ``window``: Alpaca
    may answer a bar stamped at the (inclusive) end, or at the start of a period holding
    the window's start, which are dropped as outside it; a bar farther out (years away)
    is a wrong answer, not one to drop in silence."""
    if len(stamps) == 0:
        return
    low = pa.scalar(window.start - slack, stamps.type)
    high = pa.scalar(window.end + slack, stamps.type)
    far = pc.or_(pc.less(stamps, low), pc.greater(stamps, high))
    if pc.any(far).as_py():
        first = pc.filter(stamps, far)[0].as_py()
        raise AlpacaBadAnswer(
            f"{symbol}: a bar at {first.isoformat()} lies outside the range asked for"
        )
