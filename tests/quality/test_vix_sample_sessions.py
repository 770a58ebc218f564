"""The synthetic VIX sample trades on NYSE sessions (so the demo data flags no closed-day
rows) and keeps the quirks of the real history: close-only early years, OPEN > HIGH."""

from __future__ import annotations

import warnings

import pandas as pd

from multigate.quality.coverage import coverage
from multigate.sample.vix import CLOSE_ONLY_UNTIL, DAYS, FIRST_DAY, synthetic_history
from tests.quality.conftest import ingested_records


def nyse_sessions(count: int) -> list:
    import exchange_calendars as xc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calendar = xc.get_calendar("XNYS", start=str(FIRST_DAY), end="2010-12-31")
    return [day.date() for day in calendar.sessions[:count]]


def test_sample_days_are_nyse_sessions():
    days = [row[0] for row in synthetic_history()]
    assert len(days) == DAYS
    assert days == nyse_sessions(DAYS)
    assert pd.Timestamp("1990-12-25").date() not in days  # a weekday NYSE was closed


def test_sample_keeps_its_quirks():
    rows = synthetic_history()
    early = [r for r in rows if r[0] <= CLOSE_ONLY_UNTIL]
    assert early and all(o == h == lo == c for _, o, h, lo, c in early)
    assert any(o > h for day, o, h, _, _ in rows if day > CLOSE_ONLY_UNTIL)
    assert synthetic_history() == rows  # deterministic


def test_demo_vix_outputs_have_no_closed_day_data(sample_data):
    records = [r for path, r in ingested_records(sample_data).items() if "/vix/" in f"/{path}"]
    assert records
    statuses = coverage(records).table.column("status").to_pylist()
    assert statuses.count("present") > 2_000 and "closed_data" not in statuses
