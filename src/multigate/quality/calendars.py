"""Exchange calendars: which one a dataset follows, and its sessions as plain arrays.

A thin layer over ``exchange_calendars`` (sessions, holidays, early closes). The default
calendar of an output is read off its sidecar (source, vendor dataset or asset class), so a
check needs no config; a job's ``calendar:`` key overrides it (``none`` turns it off).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np

NO_CALENDAR = "none"
"""``calendar: none`` in a job: judge sessions by UTC day with no closed days (24/7 data)."""

_US_EQUITY_VENUES = frozenset(
    {
        "XNAS", "XNYS", "XASE", "ARCX", "BATS", "BATY", "EDGA", "EDGX", "IEXG", "XBOS",
        "XPSX", "XCHI", "XCIS", "MEMX", "EPRL", "DBEQ", "EQUS", "OPRA", "XPHL", "AMXO",
    }
)  # fmt: skip
"""Databento dataset prefixes (``<VENUE>.<FEED>``) that trade on the NYSE calendar."""
_VENUE_CALENDARS = {"GLBX": "CMES"}
_EARLIEST = date(1990, 1, 1)


def calendar_names() -> list[str]:
    """Every name a job's ``calendar:`` key accepts."""
    import exchange_calendars as xc

    return sorted({*xc.get_calendar_names(include_aliases=True), NO_CALENDAR})


def check_calendar_name(value: str) -> str:
    """``value`` when it names a known calendar; ValueError with close matches otherwise."""
    names = calendar_names()
    if value in names:
        return value
    import difflib

    close = difflib.get_close_matches(value, names, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ValueError(f"'{value}' is not a known exchange calendar{hint}, e.g. XNYS, CMES, none")


def default_calendar(record: Mapping[str, Any]) -> str | None:
    """The calendar an output's sessions follow, from its sidecar record alone.

    A job's ``calendar:`` wins (``none`` -> None); otherwise: VIX and US equities (Alpaca
    stocks, Databento US equity/option venues) -> XNYS; CME Globex -> CMES; crypto and
    anything unknown -> None (UTC days, every day open).
    """
    query = record.get("query") or {}
    vendor = record.get("vendor") or {}
    chosen = query.get("calendar") if isinstance(query, Mapping) else None
    if isinstance(chosen, str) and chosen:
        return None if chosen == NO_CALENDAR else chosen
    source = record.get("source")
    if source == "vix":
        return "XNYS"
    if source == "alpaca":
        asset_class = vendor.get("asset_class") or query.get("asset_class")
        return "XNYS" if asset_class == "stocks" else None
    if source == "databento":
        venue = str(vendor.get("dataset") or "").split(".")[0].upper()
        if venue in _US_EQUITY_VENUES:
            return "XNYS"
        return _VENUE_CALENDARS.get(venue)
    return None


def symbol_calendars(records: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
    """Each symbol's calendar as its sidecars say (as coverage merges them, the first
    record naming a symbol wins; None: UTC days)."""
    out: dict[str, str | None] = {}
    for record in records:
        quality = record.get("quality") or {}
        own = quality["calendar"] if "calendar" in quality else default_calendar(record)
        for symbol in quality.get("sessions") or {}:
            out.setdefault(symbol, None if own in (None, NO_CALENDAR) else own)
    return out


@dataclass(frozen=True)
class Sessions:
    """A calendar's sessions between two dates: labels (days since epoch) with their open and
    close instants (ns since epoch, UTC; early closes included)."""

    name: str
    tz: str
    first: date
    last: date
    """The days the calendar knows about; outside them nothing is known to be closed."""
    labels: np.ndarray  # int64 days since 1970-01-01, ascending
    opens: np.ndarray  # int64 ns
    closes: np.ndarray  # int64 ns

    def label_set(self) -> frozenset[int]:
        return frozenset(int(x) for x in self.labels)


@lru_cache(maxsize=16)
def _calendar_from(name: str, first_year: int) -> tuple[Any, date]:
    """The calendar and the first day it knows about (a holiday there is still known)."""
    import exchange_calendars as xc

    with warnings.catch_warnings():  # its pandas deprecation notices are not ours to fix
        warnings.simplefilter("ignore")
        try:
            return xc.get_calendar(name, start=f"{first_year}-01-01"), date(first_year, 1, 1)
        except ValueError:  # the calendar starts later than that: take its own range
            cal = xc.get_calendar(name)
            return cal, cal.first_session.date()


def _calendar(name: str, first_year: int) -> Any:
    return _calendar_from(name, first_year)[0]


def sessions_between(name: str, first: date, last: date) -> Sessions:
    """Sessions of calendar ``name`` whose label is in [first, last] (both inclusive)."""
    cal, known_from = _calendar_from(name, max(min(first.year, 2006), _EARLIEST.year))
    lo = max(first, known_from)
    hi = min(last, cal.last_session.date())
    if lo > hi:
        empty = np.array([], dtype=np.int64)
        return Sessions(name, str(cal.tz), lo, hi, empty, empty, empty)
    schedule = cal.schedule.loc[str(lo) : str(hi)]
    labels = schedule.index.values.astype("datetime64[D]").astype(np.int64)
    opens = _ns(schedule["open"])
    closes = _ns(schedule["close"])
    return Sessions(name, str(cal.tz), lo, hi, labels, opens, closes)


def _ns(column: Any) -> np.ndarray:
    """A tz-aware pandas column as int64 ns since the epoch (UTC)."""
    return np.asarray(column.dt.tz_convert(None).to_numpy().astype("datetime64[ns]"), np.int64)


def calendar_timezone(name: str) -> str:
    return str(_calendar(name, 2006).tz)


def calendar_hours(name: str | None) -> str:
    """How calendar ``name`` judges a session, in words: its regular hours in the exchange's
    time zone (the latest rule; holidays and early closes are the calendar's own), e.g.
    ``CMES: 17:00 (day before) to 16:00 America/Chicago``; None: UTC days, every day open."""
    if name is None or name == NO_CALENDAR:
        return "none: UTC days, every day open"
    try:
        cal = _calendar(name, 2006)
    except Exception:  # an unknown name: say so rather than fail a report
        return f"{name}: hours unknown"
    opens, closes = cal.open_times[-1][1], cal.close_times[-1][1]
    before = " (day before)" if getattr(cal, "open_offset", 0) == -1 else ""
    text = f"{name}: {opens:%H:%M}{before} to {closes:%H:%M} {cal.tz}"
    breaks = getattr(cal, "break_start_times", None)
    if breaks:
        ends = cal.break_end_times
        text += f", break {breaks[-1][1]:%H:%M}-{ends[-1][1]:%H:%M}"
    return text
