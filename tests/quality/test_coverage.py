"""Session checks from sidecars against exchange calendars (no Parquet opened)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from multigate.quality.assess import assess_parquet
from multigate.quality.coverage import coverage, coverage_table
from multigate.quality.results import QUALITY_FAILED_EXIT, quality_table, run_check
from multigate.storage.parquet import write_parquet
from tests.quality.conftest import ingested_records

NEW_YORK = "America/New_York"


def _minute_bars(symbol: str, day: str, first: str = "09:30", last: str = "15:59") -> pd.DataFrame:
    times = pd.date_range(f"{day} {first}", f"{day} {last}", freq="1min", tz=NEW_YORK)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": times.tz_convert("UTC"),
            "open": 10.0,
            "high": 10.5,
            "low": 9.5,
            "close": 10.0,
            "volume": 1.0,
        }
    )


def _record(frame: pd.DataFrame, path, calendar: str | None = "XNYS") -> dict:
    write_parquet(pa.Table.from_pandas(frame, preserve_index=False), path)
    quality = assess_parquet(path, calendar=calendar)
    vendor = {"asset_class": "stocks", "timeframe": "1Min"}
    return {"source": "alpaca", "vendor": vendor, "quality": quality,
            "file": {"name": path.name}, "query": {}}  # fmt: skip


@pytest.fixture
def thanksgiving_week(tmp_path):
    """AAA: every session of 2024-11-25..12-02 except Tue 11-26; 11-28 is Thanksgiving and
    11-29 closes early (13:00). BBB: every session, but 11-27 ends at 14:00 (partial)."""
    sessions = ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02"]
    aaa, bbb = [], []
    for day in sessions:
        last = "12:59" if day == "2024-11-29" else "15:59"
        if day != "2024-11-26":
            aaa.append(_minute_bars("AAA", day, last=last))
        bbb.append(_minute_bars("BBB", day, last="13:59" if day == "2024-11-27" else last))
    return [
        _record(pd.concat(aaa, ignore_index=True), tmp_path / "AAA.parquet"),
        _record(pd.concat(bbb, ignore_index=True), tmp_path / "BBB.parquet"),
    ]


def test_a_missing_session_is_flagged_while_holidays_and_early_closes_are_not(thanksgiving_week):
    result = coverage(thanksgiving_week)
    status = {
        (row["symbol"], row["session"].isoformat()): row["status"]
        for row in result.table.to_pylist()
    }
    assert status[("AAA", "2024-11-26")] == "missing"
    assert status[("AAA", "2024-11-28")] == status[("BBB", "2024-11-28")] == "holiday"
    assert status[("AAA", "2024-11-29")] == status[("BBB", "2024-11-29")] == "present"
    assert status[("BBB", "2024-11-27")] == "partial"
    assert ("AAA", "2024-11-30") not in status  # weekends are not listed
    assert result.checks["missing_session"].to_json() == {
        "count": 1,
        "examples": ["AAA 2024-11-26"],
    }
    assert result.checks["partial_session"].to_json() == {
        "count": 1,
        "examples": ["BBB 2024-11-27"],
    }
    assert result.checks["closed_day_data"].count == 0
    assert result.checks["missing_interval"].count == 120  # BBB's two lost hours on 11-27
    rows = {(r["symbol"], r["session"]): r["rows"] for r in result.table.to_pylist()}
    assert rows[("AAA", date(2024, 11, 29))] == 210  # 09:30-12:59


def test_data_on_a_closed_day_is_flagged_and_a_window_limits_the_sessions(tmp_path):
    frame = pd.concat([_minute_bars("AAA", "2024-11-27"), _minute_bars("AAA", "2024-11-28")])
    record = _record(frame, tmp_path / "AAA.parquet")
    result = coverage([record], start="2024-11-25", end=date(2024, 11, 30))
    by_day = {r["session"].isoformat(): r["status"] for r in result.table.to_pylist()}
    assert by_day == {
        "2024-11-25": "missing",
        "2024-11-26": "missing",
        "2024-11-27": "present",
        "2024-11-28": "closed_data",
        "2024-11-29": "missing",
    }
    assert result.checks["closed_day_data"].to_json() == {
        "count": 1,
        "examples": ["AAA 2024-11-28"],
    }


def test_without_a_calendar_every_utc_day_is_a_session(tmp_path):
    times = pd.date_range("2024-11-28", "2024-11-30 23:00", freq="1h", tz="UTC")
    frame = pd.DataFrame({"symbol": "BTC/USD", "timestamp": times, "open": 1.0, "high": 1.0,
                          "low": 1.0, "close": 1.0, "volume": 1.0})  # fmt: skip
    frame = frame[frame["timestamp"].dt.day != 29]
    record = _record(frame, tmp_path / "btc.parquet", calendar=None)
    record["vendor"] = {"asset_class": "crypto", "timeframe": "1Hour"}
    table = coverage_table([record])
    assert table.column("status").to_pylist() == ["present", "missing", "present"]
    assert table.column("density").to_pylist() == [1.0, None, 1.0]


def test_quality_table_and_strict_verdict(thanksgiving_week):
    table = quality_table(thanksgiving_week)
    assert table.schema.names == ["output", "check", "count", "examples"]
    found = {(r["output"], r["check"]): r["count"] for r in table.to_pylist() if r["count"]}
    assert found == {("*", "missing_session"): 1, ("*", "partial_session"): 1,
                     ("*", "missing_interval"): 120}  # fmt: skip
    out = io.StringIO()
    assert run_check({"alpaca/x": thanksgiving_week}, strict=False, out=out) == 0
    assert run_check({"alpaca/x": thanksgiving_week}, strict=True, out=out) == QUALITY_FAILED_EXIT
    assert "FAIL missing_session: 1 (e.g. AAA 2024-11-26)" in out.getvalue()
    assert "info missing_interval: 120" in out.getvalue()


def test_only_informational_findings_pass_strict(tmp_path):
    frame = _minute_bars("AAA", "2024-11-27")
    frame = frame.iloc[::2]  # a sparse feed: every other minute (IEX-like)
    record = _record(frame, tmp_path / "AAA.parquet")
    result = coverage([record])
    assert result.table.column("status").to_pylist() == ["present"]
    assert result.density == pytest.approx(195 / 390)
    assert run_check([record], strict=True, out=io.StringIO()) == 0


def test_sample_outputs_of_every_source_have_coverage_from_their_sidecars(sample_data):
    records = ingested_records(sample_data)
    by_dataset: dict[str, list[dict]] = {}
    for path, record in records.items():
        schema = next((p for p in path.split("/") if p.startswith("schema=")), "")
        by_dataset.setdefault(f"{record['source']}/{record['job']}/{schema}", []).append(record)
    for name, recs in by_dataset.items():
        table = coverage_table(recs)
        stored = sum(r["rows"] for r in recs)
        assert sum(table.column("rows").to_pylist()) == stored, name
        assert set(table.column("symbol").to_pylist()) == {s for r in recs for s in r["symbols"]}
    # the synthetic VIX history trades on NYSE sessions: its holidays are holidays
    vix = coverage(by_dataset["vix/vix_sample/"])
    holidays = {"1990-02-19", "1990-04-13", "1990-05-28", "1990-07-04"}
    status = {r["session"].isoformat(): r["status"] for r in vix.table.to_pylist()}
    assert {status[day] for day in holidays} == {"holiday"}
    assert vix.checks["closed_day_data"].count == 0
    assert vix.checks["missing_session"].count == 0
    # FRED lists every weekday, '.' (no close) where NYSE was closed: those are holidays
    fred = coverage(by_dataset["vix/vix_fred_sample/"])
    assert fred.checks["missing_session"].count == fred.checks["closed_day_data"].count == 0
    fred_status = {r["session"].isoformat(): r["status"] for r in fred.table.to_pylist()}
    assert {fred_status[day] for day in holidays} == {"holiday"}
    # Globex: ES and NQ trade the whole CME session (17:00-16:00 Chicago): complete
    globex = coverage(by_dataset["databento/databento_sample/schema=trades"])
    assert globex.calendar == "CMES"
    assert globex.table.column("status").to_pylist() == ["present"] * 4
    bars = coverage(by_dataset["databento/databento_sample/schema=ohlcv-1m"])
    assert bars.density == 1.0 and bars.checks["missing_interval"].count == 0


def test_default_calendars_come_from_the_sidecars(sample_data):
    calendars = {
        (r["source"], r["job"]): r["quality"]["calendar"]
        for r in ingested_records(sample_data).values()
    }
    assert calendars[("vix", "vix_sample")] == "XNYS"
    assert calendars[("alpaca", "alpaca_sample_csv")] == "XNYS"
    assert calendars[("databento", "databento_sample")] == "CMES"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"source": "vix"}, "XNYS"),
        ({"source": "alpaca", "vendor": {"asset_class": "stocks"}}, "XNYS"),
        ({"source": "alpaca", "vendor": {"asset_class": "crypto"}}, None),
        ({"source": "databento", "vendor": {"dataset": "GLBX.MDP3"}}, "CMES"),
        ({"source": "databento", "vendor": {"dataset": "XNAS.ITCH"}}, "XNYS"),
        ({"source": "databento", "vendor": {"dataset": "OPRA.PILLAR"}}, "XNYS"),
        ({"source": "databento", "vendor": {"dataset": "IFEU.IMPACT"}}, None),
        ({"source": "vix", "query": {"calendar": "none"}}, None),
        ({"source": "alpaca", "query": {"calendar": "CMES"}}, "CMES"),
    ],
)
def test_default_calendar(record, expected):
    from multigate.quality.calendars import default_calendar

    assert default_calendar(record) == expected


def test_an_unknown_calendar_is_a_config_error_naming_line_and_key(write_config, run_cli):
    config = write_config(
        """
        sources:
          vix:
            enabled: true
            mode: offline
            jobs:
              - name: a
                mode: offline
                path: x.csv
                calendar: XNYZ
        """
    )
    result = run_cli("--config", config)
    assert result.code == 2
    assert "ingest.yaml:9: sources.vix.jobs[0].calendar (job 'a')" in result.err
    assert "did you mean" in result.err and "XNYS" in result.err


def test_a_job_calendar_overrides_the_default(tmp_path, write_config, run_cli):
    frame = pd.concat([_minute_bars("AAA", "2024-11-27"), _minute_bars("AAA", "2024-11-28")])
    (tmp_path / "AAA.csv").write_text(frame.drop(columns="symbol").to_csv(index=False))
    config = write_config(
        """
        sources:
          alpaca:
            enabled: true
            mode: offline
            jobs:
              - name: bars
                mode: offline
                path: AAA.csv
                symbol: AAA
                timeframe: 1Min
                calendar: none
        """
    )
    assert run_cli("--config", config).code == 0
    (record,) = ingested_records(tmp_path / "data").values()
    assert record["quality"]["calendar"] is None
    assert coverage([record]).checks["closed_day_data"].count == 0  # Thanksgiving is a day
    record["quality"]["calendar"] = "XNYS"  # what the default would have judged
    assert coverage([record]).checks["closed_day_data"].count == 1


def test_evening_data_belongs_to_its_new_york_day_not_the_utc_day():
    late = datetime(2024, 11, 27, 4, 30, tzinfo=UTC)  # 23:30 on 11-26 in New York
    from multigate.quality.assess import session_labels

    labels, inside = session_labels(
        pd.DatetimeIndex([late, late + timedelta(hours=1)]).as_unit("ns").asi8, "XNYS", daily=False
    )
    assert [str(date(1970, 1, 1) + timedelta(days=int(x))) for x in labels] == [
        "2024-11-26",
        "2024-11-27",
    ]
    assert not inside.any()


def test_days_before_the_calendar_begins_are_not_called_closed(tmp_path):
    days = pd.bdate_range("1989-12-27", "1990-01-05")  # XNYS is known here from 1990 on
    frame = pd.DataFrame({"date": days.date, "symbol": "VIX", "open": 20.0, "high": 21.0,
                          "low": 19.0, "close": 20.0})  # fmt: skip
    path = tmp_path / "VIX.parquet"
    write_parquet(pa.Table.from_pandas(frame, preserve_index=False), path)
    record = {"source": "vix", "quality": assess_parquet(path, calendar="XNYS"), "file": {}}
    status = {r["session"].isoformat(): r["status"] for r in coverage_table([record]).to_pylist()}
    assert status["1989-12-28"] == "present"  # before the calendar: a weekday counts as open
    assert status["1990-01-01"] == "closed_data"  # New Year's Day, known to be closed
    assert status["1990-01-02"] == "present"


def test_sessions_the_job_asked_for_but_got_no_data_for_are_missing(tmp_path):
    frame = pd.concat([_minute_bars("AAA", "2024-11-25"), _minute_bars("AAA", "2024-11-26")])
    record = _record(frame, tmp_path / "AAA.parquet")
    record["query"] = {"start": "2024-11-25", "end": "2024-11-29"}  # a date-only end: inclusive
    status = {r["session"].isoformat(): r["status"] for r in coverage_table([record]).to_pylist()}
    assert status == {
        "2024-11-25": "present",
        "2024-11-26": "present",
        "2024-11-27": "missing",
        "2024-11-28": "holiday",
        "2024-11-29": "missing",
    }
    record["query"] = {"start": "2024-11-25", "end": "2024-11-29T00:00:00Z"}  # exclusive
    assert coverage([record]).table.column("session").to_pylist()[-1] == date(2024, 11, 28)
    # an end in the future is cut at today: days to come are not missing yet
    record["query"] = {"start": "2024-11-25", "end": "2030-01-01"}
    assert coverage([record], today=date(2024, 11, 27)).checks["missing_session"].count == 1


def test_reference_records_are_listed_but_never_judged_by_sessions(tmp_path):
    # statistics-like records on a Saturday and one Tuesday only: no missing, no closed day
    ts = pd.DatetimeIndex(["2024-11-26 12:00", "2024-11-30 12:00"], tz="UTC")
    frame = pd.DataFrame({"ts_recv": ts, "ts_event": ts, "price": [1.0, -2.0],
                          "stat_type": [3, 3], "symbol": "ES.c.0"})  # fmt: skip
    path = tmp_path / "stats.parquet"
    write_parquet(pa.Table.from_pandas(frame, preserve_index=False), path)
    quality = assess_parquet(path, calendar="CMES")
    assert quality["market_data"] is False
    assert "non_positive_price" not in quality["checks"]  # settlement values may be <= 0
    result = coverage([{"source": "databento", "quality": quality, "file": {}}])
    assert result.table.column("status").to_pylist() == ["present", "present"]
    assert all(counter.count == 0 for counter in result.checks.values())


def test_a_dataset_mixing_venues_judges_each_symbol_by_its_own_calendar_and_span(tmp_path):
    nyse = _record(_minute_bars("AAA", "2025-02-20"), tmp_path / "AAA.parquet")
    ts = pd.date_range("2020-12-27 23:00", "2020-12-28 22:59", freq="1min", tz="UTC")  # 17-17 CT
    frame = pd.DataFrame({"symbol": "ESH1", "timestamp": ts, "open": 1.0, "high": 1.0,
                          "low": 1.0, "close": 1.0, "volume": 1.0})  # fmt: skip
    write_parquet(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "ES.parquet")
    quality = assess_parquet(tmp_path / "ES.parquet", calendar="CMES")
    vendor = {"dataset": "GLBX.MDP3", "schema": "ohlcv-1m"}
    globex = {"source": "databento", "vendor": vendor, "quality": quality, "file": {}}
    result = coverage([nyse, globex])
    rows = [(r["symbol"], r["session"].isoformat(), r["status"]) for r in result.table.to_pylist()]
    assert rows == [("AAA", "2025-02-20", "present"), ("ESH1", "2020-12-28", "present")]
    assert result.calendar == "CMES, XNYS"
    assert all(
        counter.count == 0 for name, counter in result.checks.items() if name != "missing_interval"
    )
