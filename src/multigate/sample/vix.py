"""Synthetic VIX-like daily history in CBOE's and FRED's CSV formats, with their quirks:
close-only early years, a few rows with OPEN outside [LOW, HIGH], FRED's every weekday with
'.' on holidays.
Its days are NYSE (XNYS) sessions, as the real index's are."""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Iterator
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from multigate.storage.atomic import write_bytes_atomic

SEED = 19900102
FIRST_DAY = date(1990, 1, 2)
CLOSE_ONLY_UNTIL = date(1991, 12, 31)
DAYS = 2_600  # about ten years of sessions
CALENDAR_END = date(2060, 12, 31)
"""The calendar's range is pinned (not "a year from today"): the sample never changes."""


@lru_cache(maxsize=1)
def _nyse_holidays() -> frozenset[date]:
    """Weekdays NYSE was (or will be) closed, FIRST_DAY..CALENDAR_END."""
    import exchange_calendars as xc

    with warnings.catch_warnings():  # its pandas deprecation notices are not ours to fix
        warnings.simplefilter("ignore")
        calendar = xc.get_calendar("XNYS", start=str(FIRST_DAY), end=str(CALENDAR_END))
    sessions = {day.date() for day in calendar.sessions}
    return frozenset(day for day in _weekdays(FIRST_DAY, CALENDAR_END) if day not in sessions)


def _weekdays(first: date, last: date | None = None) -> Iterator[date]:
    day = first
    while last is None or day <= last:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def synthetic_history(
    seed: int = SEED, days: int = DAYS
) -> list[tuple[date, float, float, float, float]]:
    """Mean-reverting log-price path as (date, open, high, low, close), ``days`` rows.

    The path walks every weekday, so a date's prices do not depend on the holidays before
    it; only NYSE sessions become rows (every weekday past CALENDAR_END)."""
    rng = random.Random(seed)
    level = math.log(17.0)
    holidays = _nyse_holidays()
    rows: list[tuple[date, float, float, float, float]] = []
    for day in _weekdays(FIRST_DAY):
        if len(rows) == days:
            break
        level += 0.05 * (math.log(19.0) - level) + rng.gauss(0, 0.06)
        close = round(math.exp(level), 2)
        if day <= CLOSE_ONLY_UNTIL:
            row = (day, close, close, close, close)
        else:
            open_ = round(close * math.exp(rng.gauss(0, 0.03)), 2)
            high = round(max(open_, close) * (1 + abs(rng.gauss(0, 0.02))), 2)
            low = round(min(open_, close) * (1 - abs(rng.gauss(0, 0.02))), 2)
            if rng.random() < 0.004:  # the real history has a few dozen such rows
                open_ = round(high * 1.02, 2)
            row = (day, open_, high, low, close)
        if day not in holidays:
            rows.append(row)
    return rows


def cboe_csv(rows: list[tuple[date, float, float, float, float]]) -> bytes:
    lines = ["DATE,OPEN,HIGH,LOW,CLOSE"]
    for day, o, h, lo, c in rows:
        lines.append(f"{day:%m/%d/%Y},{o:.6f},{h:.6f},{lo:.6f},{c:.6f}")
    return ("\n".join(lines) + "\n").encode()


def fred_csv(
    rows: list[tuple[date, float, float, float, float]],
    seed: int = SEED,
    *,
    holidays: bool = False,
) -> bytes:
    """FRED's ``observation_date,VIXCLS`` CSV of ``rows``' closes. ``holidays``: as FRED
    publishes it, every weekday from the first row to the last, ``.`` where there is no row
    (the exchange was closed); otherwise one row per session, ``.`` on 1% of them at random
    (values missing on open days, for tests of gaps)."""
    rng = random.Random(seed + 1)
    lines = ["observation_date,VIXCLS"]
    if holidays and rows:
        closes = {day: close for day, _, _, _, close in rows}
        for day in _weekdays(rows[0][0], rows[-1][0]):
            close = closes.get(day)
            lines.append(f"{day:%Y-%m-%d},{'.' if close is None else f'{close:.2f}'}")
        return ("\n".join(lines) + "\n").encode()
    for day, _, _, _, close in rows:
        lines.append(f"{day:%Y-%m-%d},{'.' if rng.random() < 0.01 else f'{close:.2f}'}")
    return ("\n".join(lines) + "\n").encode()


def write_vix_samples(folder: Path) -> list[Path]:
    rows = synthetic_history()
    vix3m = synthetic_history(seed=SEED + 7)
    files = {
        folder / "VIX_History.csv": cboe_csv(rows),
        folder / "VIX3M_History.csv": cboe_csv(vix3m),
        folder / "fred" / "VIXCLS.csv": fred_csv(rows, holidays=True),
    }
    for path, data in files.items():
        write_bytes_atomic(path, data)
    return list(files)
