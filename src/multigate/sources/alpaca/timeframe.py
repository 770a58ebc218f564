"""Parse Alpaca bar timeframes ("1Min", "5T", "1Hour", "1Day", ...).

Parsing and validation are plain Python so that loading a config never imports alpaca-py;
only :func:`parse_timeframe` (used when fetching) builds alpaca-py's ``TimeFrame``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from multigate.time_chunks import ChunkPeriod, as_utc

if TYPE_CHECKING:
    from alpaca.data.timeframe import TimeFrame

# alpaca-py's TimeFrameUnit values, the unit part of the API's timeframe strings.
_MINUTE, _HOUR, _DAY, _WEEK, _MONTH = "Min", "Hour", "Day", "Week", "Month"

# Long unit names are matched case-insensitively; the one-letter pandas-style aliases
# exactly, because "M" (month) and "m" would otherwise be too easy to confuse with minutes.
_LONG_UNITS: dict[str, str] = {
    "min": _MINUTE,
    "minute": _MINUTE,
    "minutes": _MINUTE,
    "hour": _HOUR,
    "hours": _HOUR,
    "day": _DAY,
    "days": _DAY,
    "week": _WEEK,
    "weeks": _WEEK,
    "month": _MONTH,
    "months": _MONTH,
}
_SHORT_UNITS: dict[str, str] = {"T": _MINUTE, "H": _HOUR, "D": _DAY, "W": _WEEK, "M": _MONTH}
_PATTERN = re.compile(r"^\s*(\d+)\s*([A-Za-z]+)\s*$")

# alpaca-py's TimeFrame.validate_timeframe limits, restated (tests hold them equal).
_ALLOWED_AMOUNTS: dict[str, frozenset[int]] = {
    _MINUTE: frozenset(range(1, 60)),
    _HOUR: frozenset(range(1, 24)),
    _DAY: frozenset({1}),
    _WEEK: frozenset({1}),
    _MONTH: frozenset({1, 2, 3, 6, 12}),
}
_ALLOWED_TEXT = {_MINUTE: "1-59", _HOUR: "1-23", _DAY: "1", _WEEK: "1", _MONTH: "1, 2, 3, 6, 12"}
_UNIT_NAMES = {_MINUTE: "Minute", _HOUR: "Hour", _DAY: "Day", _WEEK: "Week", _MONTH: "Month"}

INTRADAY_UNITS = frozenset({_MINUTE, _HOUR})


class BarTimeframe(NamedTuple):
    amount: int
    unit: str
    """alpaca-py's TimeFrameUnit value: Min, Hour, Day, Week or Month."""

    @property
    def value(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_bar_timeframe(value: object) -> BarTimeframe:
    """Parse `<n><unit>` (units Min/T, Hour/H, Day/D, Week/W, Month/M).

    Raises ValueError naming the bad value and the accepted forms.
    """
    if not isinstance(value, str):  # alpaca-py's TimeFrame carries its text as .value
        value = getattr(value, "value", value)
    if not isinstance(value, str):
        raise ValueError(f"timeframe must be a string like '1Min' or '1Day', got {value!r}")
    match = _PATTERN.match(value)
    if match is None:
        raise ValueError(
            f"invalid timeframe {value!r}: expected <n><unit> such as 1Min, 5Min, 1Hour, "
            "1Day, 1Week, 1Month (units Min/T, Hour/H, Day/D, Week/W, Month/M)"
        )
    amount = int(match.group(1))
    unit_text = match.group(2)
    unit = _SHORT_UNITS.get(unit_text) or _LONG_UNITS.get(unit_text.lower())
    if unit is None:
        raise ValueError(
            f"invalid timeframe {value!r}: unknown unit {unit_text!r} "
            "(use Min/T, Hour/H, Day/D, Week/W or Month/M)"
        )
    if amount not in _ALLOWED_AMOUNTS[unit]:
        raise ValueError(
            f"invalid timeframe {value!r}: {_UNIT_NAMES[unit]} amount must be {_ALLOWED_TEXT[unit]}"
        )
    return BarTimeframe(amount, unit)


def parse_timeframe(value: str | TimeFrame) -> TimeFrame:
    """alpaca-py's ``TimeFrame`` for ``value`` (imports alpaca-py: call only when fetching)."""
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

    if isinstance(value, TimeFrame):
        return value
    parsed = parse_bar_timeframe(value)
    return TimeFrame(parsed.amount, TimeFrameUnit(parsed.unit))


def timeframe_str(timeframe: object) -> str:
    """Canonical string usable in paths and the API, e.g. '1Min', '15Min', '1Hour', '1Day'."""
    return parse_bar_timeframe(timeframe).value


def is_intraday(timeframe: object) -> bool:
    return parse_bar_timeframe(timeframe).unit in INTRADAY_UNITS


def default_chunk_period(timeframe: object) -> ChunkPeriod:
    """One calendar month for intraday (Min/Hour) bars, one calendar year for 1Day and up."""
    return "month" if is_intraday(timeframe) else "year"


_SHORTEST_UNIT_SPAN: dict[str, timedelta] = {
    _MINUTE: timedelta(minutes=1),
    _HOUR: timedelta(hours=1),
    _DAY: timedelta(days=1),
    _WEEK: timedelta(weeks=1),
    _MONTH: timedelta(days=28),
}


def shortest_bar_span(timeframe: object) -> timedelta:
    """The least time one bar can cover (a month counts as 28 days): at most one bar per
    symbol starts in any span this long."""
    parsed = parse_bar_timeframe(timeframe)
    return parsed.amount * _SHORTEST_UNIT_SPAN[parsed.unit]


# Day and longer bars follow New York's calendar: the day a fall-back change happens on
# lasts 25 hours, so a week holding it lasts 7 days and 1 hour (a month, 31 days and 1).
_LONGEST_UNIT_SPAN: dict[str, timedelta] = {
    _MINUTE: timedelta(minutes=1),
    _HOUR: timedelta(hours=1),
    _DAY: timedelta(days=1, hours=1),
    _WEEK: timedelta(weeks=1, hours=1),
    _MONTH: timedelta(days=31, hours=1),
}


def longest_bar_span(timeframe: object) -> timedelta:
    """The most time one bar can cover (a month: 31 days and an hour)."""
    parsed = parse_bar_timeframe(timeframe)
    return parsed.amount * _LONGEST_UNIT_SPAN[parsed.unit]


def completed_bars_end(now: datetime, timeframe: object) -> datetime:
    """An end (exclusive) such that every bar stamped before it has ended by `now`.

    Bars are stamped on the minute grid, at the start of the time they cover, and that
    start need not be a UTC boundary (daily bars start at midnight New York time, so the
    bar stamped 05:00Z covers until 05:00Z the next day, or 06:00Z across the autumn
    clock change). A bar stamped t has ended when t + its longest possible span <= now;
    the end is the minute after the last such t.
    """
    parsed = parse_bar_timeframe(timeframe)
    latest = as_utc(now) - parsed.amount * _LONGEST_UNIT_SPAN[parsed.unit]
    return latest.replace(second=0, microsecond=0) + timedelta(minutes=1)
