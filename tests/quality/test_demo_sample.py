"""The demo's Databento sample looks like GLBX.MDP3: whole CME Globex sessions, checked with
the vendor's SDK and exchange_calendars directly (not with the project's own coverage)."""

from __future__ import annotations

import warnings

import databento as db
import exchange_calendars as xc
import pandas as pd

from multigate.sample.databento import INSTRUMENTS, SESSIONS, write_databento_samples


def _sessions() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calendar = xc.get_calendar("CMES", start="2024-01-01", end="2024-12-31")
    return calendar.schedule.loc[str(SESSIONS[0]) : str(SESSIONS[-1])]


def test_every_minute_of_every_globex_session_has_a_bar_of_each_symbol(tmp_path):
    files = write_databento_samples(tmp_path)
    (bars,) = [f for f in files if "ohlcv-1m" in f.name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = db.DBNStore.from_file(bars).to_df().reset_index()
    schedule = _sessions()
    assert len(schedule) == len(SESSIONS) == 2
    minutes = pd.DatetimeIndex(
        [t for o, c in zip(schedule["open"], schedule["close"], strict=True)
         for t in pd.date_range(o, c, freq="1min", inclusive="left")]
    )  # fmt: skip
    assert len(minutes) == 2 * 23 * 60  # 17:00-16:00 Chicago
    for symbol in INSTRUMENTS:
        times = pd.DatetimeIndex(frame.loc[frame["symbol"] == symbol, "ts_event"])
        assert times.equals(minutes), symbol
    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
    assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()


def test_trades_are_trades_in_every_session_hour(tmp_path):
    files = write_databento_samples(tmp_path)
    (trades,) = [f for f in files if "trades" in f.name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = db.DBNStore.from_file(trades).to_df().reset_index()
    assert set(frame["action"]) == {"T"}
    schedule = _sessions()
    for open_, close in zip(schedule["open"], schedule["close"], strict=True):
        inside = frame[(frame["ts_event"] >= open_) & (frame["ts_event"] < close)]
        hours = inside["ts_event"].dt.floor("h").nunique()
        assert hours == 23, (open_, hours)
    assert frame["ts_event"].min() == schedule["open"].iloc[0]
