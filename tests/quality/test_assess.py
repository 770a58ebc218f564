"""Ingest-time row checks: exact counts on seeded faults, streaming equals one batch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from multigate.quality.assess import assess_parquet, iter_session_entries
from multigate.storage.parquet import write_parquet
from tests.quality.conftest import ingested_records

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)  # 09:30 New York


def _bars(symbol: str, minutes: int, start: datetime = T0) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 0.05, minutes))
    open_ = np.r_[100.0, close[:-1]]
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": pd.date_range(start, periods=minutes, freq="1min"),
            "open": open_,
            "high": np.maximum(open_, close) + 0.01,
            "low": np.minimum(open_, close) - 0.01,
            "close": close,
            "volume": 100.0,
        }
    )


def _sessions(quality: dict) -> dict[str, dict[str, list[int]]]:
    out: dict[str, dict[str, list[int]]] = {}
    for symbol, day, entry in iter_session_entries(quality):
        out.setdefault(symbol, {})[day] = entry
    return out


def _write(frame: pd.DataFrame, path, row_group_size: int = 1_000_000):
    table = pa.Table.from_pandas(frame, preserve_index=False)
    write_parquet(table, path, row_group_size=row_group_size)
    return path


def test_seeded_duplicates_ohlc_errors_and_bad_prices_are_counted_exactly(tmp_path):
    frame = pd.concat([_bars("AAA", 390), _bars("BBB", 390)], ignore_index=True)
    # 3 duplicated bars (a vendor answering one minute twice), kept next to their twin
    dups = frame.iloc[[10, 200, 500]]
    frame = pd.concat([frame, dups]).sort_values(["symbol", "timestamp"], kind="stable")
    frame = frame.reset_index(drop=True)
    # 4 inconsistent OHLC rows: high < low, open above high, close below low, open below low
    frame.loc[20, "high"] = frame.loc[20, "low"] - 1
    frame.loc[30, "open"] = frame.loc[30, "high"] + 1
    frame.loc[40, "close"] = frame.loc[40, "low"] - 1
    frame.loc[600, "open"] = frame.loc[600, "low"] - 1
    # 2 non-positive prices (still consistent OHLC: low is the lowest)
    frame.loc[50, ["open", "low"]] = [0.0, 0.0]
    frame.loc[700, "low"] = -1.0
    # 1 bar out of order
    frame.loc[[300, 301], "timestamp"] = frame.loc[[301, 300], "timestamp"].to_numpy()
    path = _write(frame, tmp_path / "bars.parquet")

    checks = assess_parquet(path, calendar="XNYS")["checks"]

    assert checks["duplicate_timestamp"]["count"] == 3
    assert checks["ohlc_inconsistent"]["count"] == 4
    assert checks["non_positive_price"]["count"] == 2
    assert checks["non_monotonic"]["count"] == 1
    assert checks["duplicate_timestamp"]["examples"][0] == "AAA 2024-01-02T14:40:00Z"
    assert len(pd.read_parquet(path)) == 780 + 3  # rows are never dropped


def test_streaming_in_small_batches_gives_the_same_answer_as_one_batch(tmp_path):
    frame = pd.concat([_bars("AAA", 1000), _bars("BBB", 1000)], ignore_index=True)
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    frame = pd.concat([frame, frame.iloc[[5, 999, 1500]]], ignore_index=True)  # 3 late dups
    frame.loc[1234, "close"] *= 1.5  # one extreme move up, then one back down
    path = _write(frame, tmp_path / "bars.parquet", row_group_size=100)

    whole = assess_parquet(path, calendar="XNYS", batch_rows=10_000_000)
    pieces = assess_parquet(path, calendar="XNYS", batch_rows=7)

    assert pieces == whole
    assert whole["checks"]["extreme_move"]["count"] == 2
    # reference: each row against the previous row of its symbol, computed by pandas
    step = frame.groupby("symbol")["timestamp"].diff()
    assert whole["checks"]["non_monotonic"]["count"] == (step < pd.Timedelta(0)).sum() > 0
    assert whole["checks"]["duplicate_timestamp"]["count"] == (step == pd.Timedelta(0)).sum()
    assert whole["rows"] == 2003 == pq.ParquetFile(path).metadata.num_rows


def test_crossed_books_count_only_rows_with_both_sides_defined(tmp_path):
    ts = pd.date_range(T0, periods=6, freq="1s")
    frame = pd.DataFrame(
        {
            "ts_recv": ts,
            "ts_event": ts,
            "bid_px_00": [10.0, 10.5, np.nan, 11.0, 10.0, 12.0],
            "ask_px_00": [10.1, 10.4, 9.0, np.nan, 10.0, 11.0],
            "symbol": "ES.c.0",
        }
    )
    path = _write(frame, tmp_path / "mbp1.parquet")
    checks = assess_parquet(path, calendar="CMES")["checks"]
    assert checks["crossed_book"]["count"] == 2  # 10.5 > 10.4 and 12 > 11; locked is not crossed
    assert checks["crossed_book"]["examples"] == [
        "ES.c.0 2024-01-02T14:30:01Z",
        "ES.c.0 2024-01-02T14:30:05Z",
    ]


def test_sessions_follow_the_exchange_calendar(tmp_path):
    # pre-market, regular hours and after-hours bars of 2024-01-02 (New York) belong to that
    # session; a Saturday bar is on its own (closed) local day
    times = [
        datetime(2024, 1, 2, 9, 0, tzinfo=UTC),  # 04:00 New York, pre-market
        T0,
        datetime(2024, 1, 3, 0, 30, tzinfo=UTC),  # 19:30 New York on Jan 2
        datetime(2024, 1, 6, 15, 0, tzinfo=UTC),  # Saturday
    ]
    frame = pd.concat([_bars("AAA", 1, start=t) for t in times], ignore_index=True)
    path = _write(frame, tmp_path / "bars.parquet")

    sessions = _sessions(assess_parquet(path, calendar="XNYS"))["AAA"]

    assert sorted(sessions) == ["2024-01-02", "2024-01-06"]
    rows, first, last, in_hours, empty = sessions["2024-01-02"]
    assert (rows, in_hours, empty) == (3, 1, 0)
    assert first == pd.Timestamp(times[0]).value and last == pd.Timestamp(times[2]).value
    utc_days = _sessions(assess_parquet(path, calendar=None))["AAA"]
    assert sorted(utc_days) == ["2024-01-02", "2024-01-03", "2024-01-06"]


def test_globex_evening_trades_belong_to_the_next_session(tmp_path):
    sunday_evening = datetime(2024, 3, 10, 22, 30, tzinfo=UTC)  # 17:30 Chicago, Sunday
    ts = pd.DatetimeIndex([sunday_evening, sunday_evening + timedelta(hours=1)])
    frame = pd.DataFrame({"ts_recv": ts, "ts_event": ts, "price": [1.0, 1.0], "action": "T"})
    frame["symbol"] = "ES.c.0"
    path = _write(frame, tmp_path / "trades.parquet")
    assert list(_sessions(assess_parquet(path, calendar="CMES"))["ES.c.0"]) == ["2024-03-11"]


def test_every_sample_output_carries_its_quality_in_its_sidecar(sample_data):
    records = ingested_records(sample_data)
    assert {path.split("/")[1] for path in records} == {"vix", "alpaca", "databento"}
    for path, record in records.items():
        quality = record["quality"]
        assert quality["rows"] == record["rows"], path
        session_rows = sum(e[0] for _, _, e in iter_session_entries(quality))
        assert session_rows == record["rows"], path
        assert set(quality["sessions"]) == set(record["symbols"]), path
        for name, result in quality["checks"].items():
            assert result["count"] >= 0 and len(result["examples"]) <= 5, (path, name)
    by_job = {(r["job"], r["symbols"][0]): r for r in records.values()}
    # the VIX converter counts the same two quirks on its own: the two must agree
    vix = [record for (job, _symbol), record in by_job.items() if job == "vix_sample"]
    assert vix  # the comparison below runs at least once
    for record in vix:
        assert (
            record["quality"]["checks"]["ohlc_inconsistent"]["count"]
            == (record["extra"]["inconsistent_rows"])
        )
        assert record["quality"]["calendar"] == "XNYS"
    fred = by_job[("vix_fred_sample", "VIX")]
    assert (
        fred["quality"]["checks"]["missing_value"]["count"] == fred["extra"]["missing_close_rows"]
    )
    assert (
        fred["quality"]["checks"]["close_only"]["count"]
        == fred["rows"] - (fred["extra"]["missing_close_rows"])
    )
    databento = [r for r in records.values() if r["source"] == "databento"]
    reference = [r for r in databento if r["vendor"].get("schema") == "adjustment-factors"]
    assert [r["quality"]["calendar"] for r in reference] == [None]  # not market data
    databento = [r for r in databento if r not in reference]
    assert {r["quality"]["calendar"] for r in databento} == {"CMES"}
    assert {r["quality"]["kind"] for r in databento} == {"bars", "book", "events"}
    raw = next((sample_data / "raw").rglob("*.source.json"), None)
    assert raw is None or '"quality": {}' in raw.read_text()


@pytest.mark.parametrize("calendar", ["XNYS", None])
def test_an_empty_output_has_no_sessions_and_no_findings(tmp_path, calendar):
    path = _write(_bars("AAA", 2).iloc[:0], tmp_path / "empty.parquet")
    quality = assess_parquet(path, calendar=calendar)
    assert quality["rows"] == 0 and quality["sessions"] == {}
    assert all(v["count"] == 0 for v in quality["checks"].values())


def test_session_text_round_trips_to_the_second():
    from multigate.quality.session_format import decode_sessions, encode_sessions

    label = (date(2024, 3, 11) - date(1970, 1, 1)).days
    first = pd.Timestamp("2024-03-10 23:00:00.5", tz="UTC").value  # the evening before
    last = pd.Timestamp("2024-03-11 20:59:59.2", tz="UTC").value
    text = encode_sessions({label: [7, first, last, 6, 1]})
    assert text == "2024-03-11,7,-3600,75600,6,1"
    ((day, decoded_label, entry),) = decode_sessions(text)
    assert (day, decoded_label) == ("2024-03-11", label)
    assert entry[0] == 7 and entry[3:] == [6, 1]
    assert entry[1] <= first < entry[1] + 10**9 and entry[2] - 10**9 < last <= entry[2]


def test_bars_of_several_venues_at_one_time_are_not_duplicates(tmp_path):
    # OPRA-like: one bar per exchange (publisher) per instrument and hour
    ts = pd.DatetimeIndex(["2025-02-20 14:00"] * 3 + ["2025-02-20 15:00"] * 3, tz="UTC")
    frame = pd.DataFrame({"ts_event": ts, "publisher_id": [20, 22, 23] * 2, "open": 1.0,
                          "high": 1.0, "low": 1.0, "close": 1.0, "symbol": "C250"})  # fmt: skip
    frame = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)  # publisher 23 twice at 15:00
    path = _write(frame, tmp_path / "ohlcv.parquet")
    checks = assess_parquet(path, calendar="XNYS")["checks"]
    assert checks["duplicate_timestamp"]["count"] == 1
    assert checks["non_monotonic"]["count"] == 0


def test_rows_without_an_event_time_use_their_receive_time(tmp_path):
    # bbo-1s: an interval with no event has ts_event undefined (null) but a ts_recv
    recv = pd.DatetimeIndex(["2023-03-28 13:33:15", "2023-03-28 14:00:01"], tz="UTC")
    no_event = pd.DatetimeIndex([pd.NaT, pd.NaT], tz="UTC")
    frame = pd.DataFrame({"ts_recv": recv, "ts_event": no_event, "bid_px_00": 1.0,
                          "ask_px_00": 1.1, "symbol": "QQQ"})  # fmt: skip
    path = _write(frame, tmp_path / "bbo.parquet")
    quality = assess_parquet(path, calendar="XNYS")
    assert list(_sessions(quality)["QQQ"]) == ["2023-03-28"]
    assert quality["checks"]["missing_time"]["count"] == 0
    # with no time at all a row is counted, and left out of the sessions
    frame.loc[1, "ts_recv"] = pd.NaT
    quality = assess_parquet(_write(frame, tmp_path / "bbo2.parquet"), calendar="XNYS")
    assert quality["checks"]["missing_time"] == {"count": 1, "examples": ["QQQ row 1"]}
    assert sum(e[0] for _, _, e in iter_session_entries(quality)) == 1
    assert quality["rows"] == 2


def test_globex_pre_open_on_sunday_joins_monday_and_daily_bars_keep_their_utc_date(tmp_path):
    pre_open = pd.DatetimeIndex(["2020-12-27 22:15", "2020-12-27 23:30"], tz="UTC")  # 16:15 CT
    frame = pd.DataFrame({"ts_recv": pre_open, "ts_event": pre_open, "price": 1.0,
                          "action": "A", "symbol": "ESH1"})  # fmt: skip
    sessions = _sessions(assess_parquet(_write(frame, tmp_path / "mbo.parquet"), calendar="CMES"))
    assert list(sessions["ESH1"]) == ["2020-12-28"]
    # a Saturday trade is hours away from any open: its own (closed) day
    saturday = frame.assign(ts_event=pd.DatetimeIndex(["2020-12-26 15:00"] * 2, tz="UTC"))
    saturday["ts_recv"] = saturday["ts_event"]
    sessions = _sessions(assess_parquet(_write(saturday, tmp_path / "s.parquet"), calendar="CMES"))
    assert list(sessions["ESH1"]) == ["2020-12-26"]
    # ohlcv-1d bars are stamped 00:00 UTC of their trading day (19:00 the day before in NY)
    days = pd.DatetimeIndex(["2020-12-28", "2020-12-29"], tz="UTC")
    bars = pd.DataFrame({"ts_event": days, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
                         "symbol": "NVDA"})  # fmt: skip
    sessions = _sessions(assess_parquet(_write(bars, tmp_path / "d.parquet"), calendar="XNYS"))
    assert list(sessions["NVDA"]) == ["2020-12-28", "2020-12-29"]
