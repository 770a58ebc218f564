"""Catalog.bars against pandas' resample(label="left", closed="left") with empty intervals
dropped, on minute bars and trades made with databento_dbn and ingested offline."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from multigate.catalog import CatalogError

AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def reference(frame: pd.DataFrame, every: str, time_column: str = "ts_event") -> pd.DataFrame:
    """pandas resampling per symbol, intervals with no row dropped, sorted as the catalog
    reads (time, then symbol)."""
    frame = frame.set_index(time_column)
    pieces = []
    for symbol, rows in frame.groupby("symbol"):
        resampled = rows.resample(every, label="left", closed="left")
        out = resampled.agg(AGG)
        out = out[resampled.size() > 0]
        out.insert(0, "symbol", symbol)
        pieces.append(out)
    result = pd.concat(pieces).rename_axis(time_column).reset_index()
    return result.sort_values([time_column, "symbol"], kind="stable").reset_index(drop=True)


def as_frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


@pytest.mark.parametrize("every", ["1min", "5min", "15min", "1h", "4h"])
def test_intraday_bars_equal_pandas_resample(bar_catalog, every):
    raw = bar_catalog.read("databento/bars_1m").to_pandas()
    want = reference(raw[["ts_event", "symbol", *AGG]], every)
    got = as_frame(bar_catalog.bars("databento/bars_1m", every))
    assert len(got) < len(raw) or every == "1min"
    pd.testing.assert_frame_equal(got, want[got.columns.tolist()], check_exact=True)


def test_symbols_and_range_filter_the_rows_resampled(bar_catalog):
    start, end = "2023-11-14T03:07Z", "2023-11-15T11:00Z"
    raw = bar_catalog.read("databento/bars_1m", symbols="SYM2", start=start, end=end)
    want = reference(raw.to_pandas()[["ts_event", "symbol", *AGG]], "30min")
    got = bar_catalog.bars("databento/bars_1m", "30min", symbols="SYM2", start=start, end=end)
    assert set(got["symbol"].to_pylist()) == {"SYM2"}
    assert got["ts_event"][0].as_py() == pd.Timestamp("2023-11-14T03:00Z")  # labelled by start
    assert got.num_rows == len(want)
    assert got["open"].to_pylist() == want["open"].tolist()
    assert got["close"].to_pylist() == want["close"].tolist()


def test_trades_become_bars(bar_catalog):
    raw = bar_catalog.read("databento/trades").to_pandas()
    frame = raw.rename(columns={"size": "volume"})
    for column in ("open", "high", "low", "close"):
        frame[column] = frame["price"]
    want = reference(frame[["ts_event", "symbol", *AGG]], "5min")
    want["volume"] = want["volume"].astype("uint64")  # sizes are uint32: sums are widened
    got = as_frame(bar_catalog.bars("databento/trades", "5min"))
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_daily_bars_follow_the_cme_session(bar_catalog):
    """A CME day runs 17:00 to 16:00 Chicago time; the hour between is in no session."""
    raw = bar_catalog.read("databento/bars_1m").to_pandas()
    local = raw["ts_event"].dt.tz_convert("America/Chicago")
    # the session a row belongs to: its Chicago date, or the next day from 17:00 on; no
    # session in the 16:00 hour, nor on a Saturday (Friday from 17:00 on)
    shifted = local + pd.Timedelta(hours=7)
    keep = (local.dt.hour != 16) & (shifted.dt.day_of_week < 5)
    inside = raw[keep].copy()
    inside["session"] = shifted[keep].dt.tz_localize(None).dt.normalize()
    want = inside.groupby(["session", "symbol"], sort=True).agg(AGG).reset_index()
    opened = (want["session"] - pd.Timedelta(hours=7)).dt.tz_localize("America/Chicago")
    want["ts_event"] = opened.dt.tz_convert("UTC")
    want["session"] = want["session"].dt.date
    want = want.sort_values(["ts_event", "symbol"], kind="stable")
    got = bar_catalog.bars("databento/bars_1m", "1d")
    assert got.schema.metadata[b"multigate.calendar"] == b"CMES"
    outside = int(got.schema.metadata[b"multigate.rows_outside_sessions"])
    assert outside == len(raw) - len(inside) > 0
    frame = as_frame(got)
    assert frame["ts_event"].tolist() == want["ts_event"].tolist()
    assert frame["session"].tolist() == want["session"].tolist()
    for column in ("symbol", *AGG):
        assert frame[column].tolist() == want[column].tolist(), column


def test_daily_bars_without_a_calendar_are_utc_days(bar_catalog):
    raw = bar_catalog.read("databento/bars_1m").to_pandas()
    want = reference(raw[["ts_event", "symbol", *AGG]], "1D")
    got = as_frame(bar_catalog.bars("databento/bars_1m", "1d", calendar="none"))
    assert got["session"].tolist() == [stamp.date() for stamp in want["ts_event"]]
    pd.testing.assert_frame_equal(got.drop(columns="session"), want, check_exact=True)


@pytest.mark.parametrize("every", ["7min", "2d", "soon", "0s"])
def test_an_interval_that_does_not_divide_a_day_is_refused(bar_catalog, every):
    with pytest.raises(CatalogError, match="divides a day"):
        bar_catalog.bars("databento/bars_1m", every)


def test_an_unknown_calendar_is_refused(bar_catalog):
    with pytest.raises(CatalogError, match="not a known exchange calendar"):
        bar_catalog.bars("databento/bars_1m", "1d", calendar="CMEX")
