"""Catalog.continuous over two CME contracts made with databento_dbn and ingested offline:
the contract of each session follows the roll rule (checked against pandas on the raw
rows), the rolls are listed, and a back-adjusted series has no gap at the roll."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from multigate import Catalog
from multigate.backtest import rolls
from multigate.catalog import CatalogError
from multigate.exit_codes import ExitCode
from tests.backtest.helpers import NS_PER_MIN, START, write_records

CONFIG = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - {name: es, mode: offline, path: inputs/*.dbn.zst}
"""
SWITCH = pd.Timestamp("2023-11-15T23:00Z")  # the open of the CME session of Nov 16
NAMES = {1: "ESZ3", 2: "ESH4"}
EXPIRATIONS = {"ESZ3": "2023-11-15T14:30Z", "ESH4": "2024-03-15T13:30Z"}


@pytest.fixture
def futures(tmp_path, write_config, run_cli) -> Catalog:
    """ESZ3 trades most until the Nov 16 session, ESH4 (3% dearer) from then on."""
    (tmp_path / "inputs").mkdir()
    minutes = START.value + np.arange(0, 5 * 1440, 3, dtype=np.int64) * NS_PER_MIN
    early, late = minutes[minutes < SWITCH.value], minutes[minutes >= SWITCH.value]
    for label, times, busy in (("a", early, 1), ("b", late, 2)):
        for iid, name in NAMES.items():
            write_records(
                tmp_path / f"inputs/{label}-{name}.ohlcv-1m.dbn.zst",
                "ohlcv-1m",
                {iid: times},
                seed=iid + (10 if label == "b" else 0),
                names={iid: name},
                scale=1.03 if iid == 2 else 1.0,
                volumes=(500, 1_000) if iid == busy else (1, 100),
            )
    assert run_cli("--config", write_config(CONFIG)).code == ExitCode.OK
    return Catalog.open(tmp_path / "data")


def sessions_of(raw: pd.DataFrame) -> pd.DataFrame:
    """Rows inside CME sessions with their session date (17:00 Chicago starts the next)."""
    local = raw["ts_event"].dt.tz_convert("America/Chicago")
    shifted = local + pd.Timedelta(hours=7)
    keep = (local.dt.hour != 16) & (shifted.dt.day_of_week < 5)
    rows = raw[keep].copy()
    rows["session"] = shifted[keep].dt.date
    return rows


def test_volume_roll_picks_the_previous_sessions_busiest_contract(futures):
    raw = sessions_of(futures.read("databento/es").to_pandas())
    volume = raw.groupby(["session", "symbol"])["volume"].sum().unstack()
    busiest = volume.idxmax(axis=1).shift(1).dropna()  # known before the session opens
    want = raw[raw["symbol"] == raw["session"].map(busiest)].sort_values("ts_event")
    got = futures.continuous("databento/es", "ES").to_pandas()
    assert got["ts_event"].tolist() == want["ts_event"].tolist()
    assert got["contract"].tolist() == want["symbol"].tolist()
    assert got["close"].tolist() == want["close"].tolist()  # unadjusted: as traded
    (roll,) = rolls(futures.continuous("databento/es", "ES"))
    assert (roll["from"], roll["to"], str(roll["session"])) == ("ESZ3", "ESH4", "2023-11-17")
    assert roll["at"] == want[want["symbol"] == "ESH4"]["ts_event"].min().value


@pytest.mark.parametrize("how", ["ratio", "difference"])
def test_a_back_adjusted_series_has_no_gap_at_the_roll(futures, how):
    raw = futures.continuous("databento/es", "ES").to_pandas()
    got = futures.continuous("databento/es", "ES", adjust=how)
    (roll,) = rolls(got)
    frame = got.to_pandas()
    before = raw["ts_event"] < pd.Timestamp(roll["at"], tz="UTC")
    # both contracts' last closes in the session before the roll, from the raw rows
    day = sessions_of(futures.read("databento/es").to_pandas())
    last = day[day["session"].astype(str) == "2023-11-16"].groupby("symbol")["close"].last()
    assert (roll["old_close"], roll["new_close"]) == (last["ESZ3"], last["ESH4"])
    for column in ("open", "high", "low", "close"):
        if how == "ratio":
            want = raw[column] * np.where(before, last["ESH4"] / last["ESZ3"], 1.0)
        else:
            want = raw[column] + np.where(before, last["ESH4"] - last["ESZ3"], 0.0)
        np.testing.assert_allclose(frame[column], want, rtol=1e-12)
    jump = lambda closes: np.abs(np.diff(np.log(closes.to_numpy())))  # noqa: E731
    at = int(np.flatnonzero(~before.to_numpy())[0])
    assert jump(raw["close"])[at - 1] > 0.02  # the raw series jumps at the roll ...
    assert jump(frame["close"])[at - 1] < 0.01  # ... the adjusted one does not


def test_calendar_roll_follows_expirations_and_rank(futures):
    got = futures.continuous("databento/es", "ES", roll="calendar", expirations=EXPIRATIONS)
    (roll,) = rolls(got)
    assert (roll["from"], roll["to"], str(roll["session"])) == ("ESZ3", "ESH4", "2023-11-16")
    frame = got.to_pandas()
    switch = frame["ts_event"] >= SWITCH
    assert set(frame[~switch]["contract"]) == {"ESZ3"} and set(frame[switch]["contract"]) == {
        "ESH4"
    }
    second = futures.continuous(
        "databento/es", "ES", roll="calendar", rank=1, expirations=EXPIRATIONS
    ).to_pandas()
    assert set(second["contract"]) == {"ESH4"} and (second["ts_event"] < SWITCH).all()


def test_continuous_errors_are_clear(futures):
    with pytest.raises(CatalogError, match="needs the contracts' expirations"):
        futures.continuous("databento/es", "ES", roll="calendar")
    with pytest.raises(CatalogError, match="roll='open_interest'"):
        futures.continuous("databento/es", "ES", roll="open_interest")
    with pytest.raises(CatalogError, match="no contract of NQ"):
        futures.continuous("databento/es", "NQ")
