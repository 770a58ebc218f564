"""Parse Alpaca bar timeframes ("1Min", "5T", "1Hour", "1Day", ...) into alpaca-py's TimeFrame."""

from __future__ import annotations

import re

from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from multigate.time_chunks import ChunkPeriod

# Long unit names are matched case-insensitively; the one-letter pandas-style aliases
# exactly, because "M" (month) and "m" would otherwise be too easy to confuse with minutes.
_LONG_UNITS: dict[str, TimeFrameUnit] = {
    "min": TimeFrameUnit.Minute,
    "minute": TimeFrameUnit.Minute,
    "minutes": TimeFrameUnit.Minute,
    "hour": TimeFrameUnit.Hour,
    "hours": TimeFrameUnit.Hour,
    "day": TimeFrameUnit.Day,
    "days": TimeFrameUnit.Day,
    "week": TimeFrameUnit.Week,
    "weeks": TimeFrameUnit.Week,
    "month": TimeFrameUnit.Month,
    "months": TimeFrameUnit.Month,
}
_SHORT_UNITS: dict[str, TimeFrameUnit] = {
    "T": TimeFrameUnit.Minute,
    "H": TimeFrameUnit.Hour,
    "D": TimeFrameUnit.Day,
    "W": TimeFrameUnit.Week,
    "M": TimeFrameUnit.Month,
}
_PATTERN = re.compile(r"^\s*(\d+)\s*([A-Za-z]+)\s*$")

# alpaca-py's TimeFrame.validate_timeframe limits, restated for clear messages.
_ALLOWED: dict[TimeFrameUnit, str] = {
    TimeFrameUnit.Minute: "1-59",
    TimeFrameUnit.Hour: "1-23",
    TimeFrameUnit.Day: "1",
    TimeFrameUnit.Week: "1",
    TimeFrameUnit.Month: "1, 2, 3, 6, 12",
}

INTRADAY_UNITS = frozenset({TimeFrameUnit.Minute, TimeFrameUnit.Hour})


def parse_timeframe(value: str | TimeFrame) -> TimeFrame:
    """Parse `<n><unit>` (units Min/T, Hour/H, Day/D, Week/W, Month/M) into a TimeFrame.

    Raises ValueError naming the bad value and the accepted forms.
    """
    if isinstance(value, TimeFrame):
        return value
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
    try:
        return TimeFrame(amount, unit)
    except ValueError as exc:
        raise ValueError(
            f"invalid timeframe {value!r}: {unit.name} amount must be {_ALLOWED[unit]} ({exc})"
        ) from exc


def timeframe_str(timeframe: str | TimeFrame) -> str:
    """Canonical string usable in paths and the API, e.g. '1Min', '15Min', '1Hour', '1Day'."""
    return parse_timeframe(timeframe).value


def is_intraday(timeframe: str | TimeFrame) -> bool:
    return parse_timeframe(timeframe).unit in INTRADAY_UNITS


def default_chunk_period(timeframe: str | TimeFrame) -> ChunkPeriod:
    """One calendar month for intraday (Min/Hour) bars, one calendar year for 1Day and up."""
    return "month" if is_intraday(timeframe) else "year"
