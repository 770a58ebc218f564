"""The report's pictures: price and volume, null counts, gaps, heatmap cells, and embedded
JSON that no symbol can break; checked against pandas and in a real Chromium."""

from __future__ import annotations

import copy
import json
import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from multigate.html_report import render_report
from multigate.html_report.gaps import gap_list
from multigate.html_report.heatmap import encode_cell, heatmap_data, script_json
from multigate.html_report.series import bucket_for, dataset_pictures
from multigate.quality.assess import assess_parquet
from multigate.quality.coverage import coverage, merge_sessions
from multigate.quality.job_outputs import collect_datasets
from multigate.storage.parquet import write_parquet
from tests.quality.browser import chromium_path, open_page

needs_chromium = pytest.mark.skipif(
    chromium_path() is None, reason="chromium is not installed (.ci/run installs it)"
)
NEW_YORK = "America/New_York"
HOSTILE = "</script><!--<script>x\u2028y & \u2029"


def _bars(symbol: str, day: str, first: str = "09:30", last: str = "15:59") -> pd.DataFrame:
    times = pd.date_range(f"{day} {first}", f"{day} {last}", freq="1min", tz=NEW_YORK)
    n = len(times)
    close = [100.0 + i * 0.01 for i in range(n)]
    return pd.DataFrame({"symbol": symbol, "timestamp": times.tz_convert("UTC"),
                         "open": close, "high": close, "low": close, "close": close,
                         "volume": [float(i % 7) for i in range(n)]})  # fmt: skip


def _write(frame: pd.DataFrame, folder, name: str) -> dict:
    path = folder / name
    write_parquet(pa.Table.from_pandas(frame, preserve_index=False), path)
    rows = len(frame)
    return {"source": "alpaca", "job": "t", "kind": "ingested", "rows": rows,
            "vendor": {"asset_class": "stocks", "timeframe": "1Min"},
            "quality": assess_parquet(path, calendar="XNYS"), "query": {},
            "symbols": sorted(set(frame["symbol"])), "first_ts": str(frame["timestamp"].min()),
            "last_ts": str(frame["timestamp"].max()), "file": {"name": name}}  # fmt: skip


@pytest.fixture
def thanksgiving(tmp_path):
    """AAA: 2024-11-25..12-02 but no 11-26 and a hole 11:00-11:45 New York on 11-25;
    BBB: every session, 11-27 ends at 14:00 (partial). 11-28 is a holiday."""
    days = ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02"]
    aaa, bbb = [], []
    for day in days:
        last = "12:59" if day == "2024-11-29" else "15:59"
        if day == "2024-11-25":
            aaa += [_bars("AAA", day, last="10:59"), _bars("AAA", day, first="11:46")]
        elif day != "2024-11-26":
            aaa.append(_bars("AAA", day, last=last))
        bbb.append(_bars("BBB", day, last="13:59" if day == "2024-11-27" else last))
    records = [
        _write(pd.concat(aaa, ignore_index=True), tmp_path, "AAA.parquet"),
        _write(pd.concat(bbb, ignore_index=True), tmp_path, "BBB.parquet"),
    ]
    return tmp_path, records


def _pictures(folder, records, **budget):
    merged = merge_sessions(records)
    return dataset_pictures(folder, records, merged.calendars.get, **budget)


def test_sessions_with_data_and_complete_sessions_are_counted_apart(thanksgiving):
    _, records = thanksgiving
    counts = coverage(records).counts()
    # 5 open sessions x 2 symbols; AAA misses one, BBB has one partial; Thanksgiving is closed
    assert (counts.expected, counts.with_data, counts.complete) == (10, 9, 8)
    assert (counts.partial, counts.missing, counts.holidays) == (1, 1, 2)


def test_the_gap_list_names_missing_partial_sessions_and_intraday_holes(thanksgiving):
    folder, records = thanksgiving
    pictures = _pictures(folder, records)
    found, more = gap_list(coverage(records), records, pictures.holes)
    assert [(g.symbol, g.kind, g.when) for g in found] == [
        ("AAA", "intraday hole", "2024-11-25 15:59 .. 16:46 UTC"),  # 10:59 -> 11:46 New York
        ("AAA", "missing", "2024-11-26"),
        ("BBB", "partial", "2024-11-27"),
    ]
    assert more == 0
    first, more = gap_list(coverage(records), records, pictures.holes, limit=1)
    assert (first, more) == (found[:1], 2)
    partial = found[2]
    assert partial.detail == (
        "data 2024-11-27 14:30 .. 2024-11-27 18:59 UTC; session 2024-11-27 14:30 .. "
        "2024-11-27 21:00 UTC"
    )


def test_price_and_volume_match_pandas(thanksgiving):
    folder, records = thanksgiving
    pictures = _pictures(folder, records)
    frame = pd.concat([pd.read_parquet(folder / r["file"]["name"]) for r in records])
    span = int((frame["timestamp"].max() - frame["timestamp"].min()).value)
    width, label = bucket_for(span)
    assert pictures.bucket == label and pictures.rows_read == pictures.rows_total == len(frame)
    frame["ns"] = frame["timestamp"].dt.as_unit("ns").astype("int64")
    frame["bucket"] = frame["ns"] // width
    for symbol, group in frame.groupby("symbol"):
        want = (
            group.sort_values("timestamp")
            .groupby("bucket")
            .agg(t=("ns", "last"), c=("close", "last"), v=("volume", "sum"))
        )
        got = pictures.series[symbol]
        assert got["c"] == want["c"].tolist()
        assert got["v"] == want["v"].tolist()
        assert got["t"] == (want["t"] // 10**6).tolist()


def test_null_counts_match_pandas_from_footers_or_rows(tmp_path):
    frame = _bars("AAA", "2024-11-25")
    frame.loc[::10, "close"] = None
    frame.loc[::7, "volume"] = float("nan")
    record = _write(frame, tmp_path, "AAA.parquet")
    pq.write_table(  # the same rows without statistics: counted in the rows read
        pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "B.parquet",
        write_statistics=False,
    )  # fmt: skip
    bare = {**record, "file": {"name": "B.parquet"}}
    for records, from_footers in (([record], True), ([bare], False)):
        nulls = {c.name: c for c in _pictures(tmp_path, records).nulls}
        table = pq.read_table(tmp_path / records[0]["file"]["name"])
        for name in table.column_names:
            assert nulls[name].nulls == table.column(name).null_count, name
        assert nulls["close"].nulls == frame["close"].isna().sum() > 0
        assert nulls["close"].from_footers is from_footers
    # pandas' NaN in a float column is written as null by pyarrow: counted as null
    assert nulls["volume"].nulls == frame["volume"].isna().sum() and nulls["volume"].nan == 0


def test_a_row_budget_reads_a_sample_and_says_so(thanksgiving):
    folder, records = thanksgiving
    pictures = _pictures(folder, records, row_budget=1_000)
    assert 0 < pictures.rows_read < pictures.rows_total
    assert pictures.sampled and pictures.files_read == 1
    page = render_report([("t", records, [])], data_dir=folder, row_budget=1_000)
    assert "a sample of evenly spaced files and row groups" in page


def test_an_unreadable_output_is_named_not_fatal(thanksgiving):
    folder, records = thanksgiving
    (folder / "BBB.parquet").write_bytes(b"not parquet")
    pictures = _pictures(folder, records)
    assert pictures.unreadable == ["BBB.parquet: ArrowInvalid"]
    assert set(pictures.series) == {"AAA"}


def test_a_column_keeps_every_status_of_its_days():
    assert encode_cell({"P": 20, "H": 1}) == "P20H"
    assert encode_cell({"M": 1, "P": 3, "p": 2}) == "P3p2M"
    assert encode_cell({}) == ""


def test_vix_months_hold_only_present_and_closed_days(sample_data):
    (records,) = [r for n, r in collect_datasets(sample_data) if n == "vix/vix_sample"]
    data = heatmap_data(coverage(records))
    assert data["period"] == "month"
    letters = {ch for line in data["cells"] for cell in line for ch in cell if ch.isalpha()}
    assert letters == {"P", "H"}  # holidays are kept, and drawn as neutral (see below)


def test_embedded_json_cannot_end_its_script_element():
    data = {"symbol": HOSTILE, "more": ["<!--", "-->", "&amp;"]}
    text = script_json(data)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == data


DRAWN = """(() => {
  const colors = (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, out = {};
    for (let i = 0; i < d.length; i += 4) {
      if (!d[i + 3]) continue;
      const key = d[i] + "," + d[i + 1] + "," + d[i + 2];
      out[key] = (out[key] || 0) + 1;
    }
    return out;
  };
  return {
    heatmaps: [...document.querySelectorAll("canvas.heatmap")].map((c) => ({
      id: c.dataset.source, width: c.width, colors: colors(c)})),
    prices: [...document.querySelectorAll("canvas.price")].map((c) => Number(c.dataset.drawn)),
    segments: [...document.querySelectorAll("canvas.price")].map(
      (c) => Number(c.dataset.segments)),
    captions: [...document.querySelectorAll("figcaption")].map((f) => f.textContent),
    gaps: [...document.querySelectorAll("table.gaps td:first-child")].map((t) => t.textContent),
  };
})()"""
GREEN, RED, GREY, AMBER = "46,158,79", "214,69,65", "223,226,230", "224,165,38"


def _without_a_session(datasets) -> list[dict]:
    """VIX's sidecars with one session of 1995-03 removed: that day is missing."""
    (records,) = [copy.deepcopy(r) for n, r, _ in datasets if n == "vix/vix_sample"]
    for record in records:
        sessions = record["quality"]["sessions"]
        for symbol, text in sessions.items():
            kept = [entry for entry in text.split() if not entry.startswith("1995-03-15,")]
            assert len(kept) == len(text.split()) - 1
            sessions[symbol] = " ".join(kept)
    return records


@needs_chromium
def test_the_demo_report_draws_complete_sessions_and_prices_in_chromium(sample_data, tmp_path):
    datasets = [(n, r, []) for n, r in collect_datasets(sample_data)]
    datasets.append(("vix/vix_gapped", _without_a_session(datasets), []))
    report = tmp_path / "report.html"
    report.write_text(render_report(datasets, data_dir=sample_data))

    page = open_page(report.as_uri(), tmp_path / "profile", DRAWN)

    assert page.errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in page.requests)
    names = [name for name, _, _ in datasets]
    maps = dict(zip(names, page.value["heatmaps"], strict=True))
    vix = maps["vix/vix_sample"]["colors"]
    assert vix.get(GREEN, 0) > 0 and vix.get(GREY, 0) == 0  # 100% coverage: no grey month
    gapped = maps["vix/vix_gapped"]["colors"]
    assert 0 < gapped.get(RED, 0) < gapped.get(GREEN, 0) / 10  # a missing day: a thin band
    trades = maps["databento/databento_sample/trades"]
    assert trades["width"] >= 110 + 2 * 40  # two sessions: wide, readable cells
    assert not {RED, AMBER, GREY} & set(trades["colors"])  # every session complete
    assert trades["colors"][GREEN] >= 2 * 2 * 40 * 12
    points, segments = page.value["prices"], page.value["segments"]
    assert len(points) >= 8 and all(n > 10 for n in points)
    # lines, not scattered dots: only a closed market (nights, Globex's daily hour) breaks one
    assert all(s > 0.9 * n for n, s in zip(points, segments, strict=True)), (points, segments)


@needs_chromium
def test_a_hostile_symbol_is_text_and_the_page_still_runs(thanksgiving, tmp_path):
    folder, records = thanksgiving
    frame = pd.read_parquet(folder / "AAA.parquet")
    frame["symbol"] = HOSTILE
    hostile = _write(frame, folder, "X.parquet")
    report = tmp_path / "report.html"
    report.write_text(render_report([(HOSTILE, [hostile, *records], [])], data_dir=folder))

    page = open_page(report.as_uri(), tmp_path / "profile", DRAWN)

    assert page.errors == []
    assert page.value["captions"] == sorted(["AAA", "BBB", HOSTILE])
    assert HOSTILE in page.value["gaps"]  # its missing session, listed as text
    assert page.value["heatmaps"][0]["colors"].get(GREEN, 0) > 0
    assert all(n > 0 for n in page.value["prices"])
    assert not re.search(r"<script>x", report.read_text())
