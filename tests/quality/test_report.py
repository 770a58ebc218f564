"""The HTML report: built from sidecars, self-contained, and drawn in a real browser."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, date, datetime, timedelta

import pytest

from multigate.html_report import collect_datasets, render_report, spend_by_job, write_report
from multigate.html_report.heatmap import MAX_COLUMNS, heatmap_period
from multigate.quality.coverage import coverage
from multigate.quality.job_outputs import job_datasets
from multigate.storage.ledger import append_ledger, read_ledger
from tests.quality.browser import chromium_path, open_page

needs_chromium = pytest.mark.skipif(
    chromium_path() is None, reason="chromium is not installed (.ci/run installs it)"
)

DRAWN = """(() => {
  const canvases = [...document.querySelectorAll("canvas.heatmap")];
  return canvases.map((c) => {
    const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    return {drawn: Number(c.dataset.drawn || 0), painted: painted};
  });
})()"""


def _datasets(data_dir):
    out = []
    for source in sorted((data_dir / "ingested").iterdir()):
        for job in sorted(source.iterdir()):
            for name, records in job_datasets(data_dir, source.name, job.name).items():
                snapshots = [{"id": "20261126T064500Z-1", "created_at": "2026-11-26T06:45:00Z",
                              "datasets": [name], "outputs": len(records)}]  # fmt: skip
                out.append((name, records, snapshots))
    return out


def _ledger(path):
    """What a Databento job writes: a quote, a refused attempt (free), a paid attempt that
    broke (counted), a paid attempt that arrived, for one chunk; a second chunk only quoted."""
    day1, day2, day3 = "2024-03-11T00:00:00+00:00", "2024-03-12T00:00:00+00:00", "2024-03-13"
    request = {"dataset": "GLBX.MDP3", "schema": "trades", "symbols": "ES.c.0",
               "start": day1, "end": day2}  # fmt: skip
    other = {**request, "start": day2, "end": day3}
    at = datetime(2026, 11, 26, tzinfo=UTC)
    append_ledger(path, "estimate", {"job": "es", "usd": 1.5, **request}, at=at)
    append_ledger(path, "estimate", {"job": "es", "usd": 2.0, **other}, at=at)
    append_ledger(path, "attempt", {"job": "es", "attempt": 1, "usd": 1.5, **request}, at=at)
    failed = {"job": "es", "usd": 1.5, **request}  # as the download code writes it
    append_ledger(path, "attempt_failed", {**failed, "billable": False}, at=at)
    append_ledger(path, "attempt", {"job": "es", "attempt": 2, "usd": 1.5, **request}, at=at)
    append_ledger(path, "attempt_failed", {**failed, "billable": True}, at=at)
    append_ledger(path, "attempt", {"job": "es", "attempt": 3, "usd": 1.5, **request}, at=at)
    append_ledger(path, "download", {"job": "es", "bytes": 10, "sha256": "00", **request}, at=at)
    return read_ledger(path)


def test_spend_per_job_counts_quotes_and_billable_attempts(tmp_path):
    (spend,) = spend_by_job(_ledger(tmp_path / "ledger.jsonl"))
    assert (spend.job, spend.quoted_usd, spend.paid_usd) == ("es", 3.5, 3.0)
    assert (spend.attempts, spend.failed_attempts, spend.downloads) == (3, 2, 1)
    broken = [{"event": "estimate", "job": "x", "usd": float("nan")}, {"event": "attempt"}, 5]
    assert [(s.job, s.quoted_usd, s.paid_usd) for s in spend_by_job(broken)] == [("x", 0, 0)]


def test_report_lists_every_dataset_its_findings_spend_and_snapshots(sample_data, tmp_path):
    datasets = _datasets(sample_data)
    page = render_report(datasets, _ledger(tmp_path / "ledger.jsonl"))
    assert page.count('<canvas class="heatmap"') == len(datasets) == 9
    for name, _, _ in datasets:
        assert f">{name}</a>" in page
    assert "FAIL</span></td><td>ohlc_inconsistent</td><td>6</td>" in page
    assert "<td>es</td><td>$3.50</td><td>$3.00</td>" in page
    assert "20261126T064500Z-1" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch


def test_text_from_sidecars_is_escaped(sample_data):
    name, records, _ = _datasets(sample_data)[0]
    evil = "<script>alert(1)</script>"
    page = render_report([(name + evil, records, [{"id": evil}])], [])
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@needs_chromium
def test_report_loads_in_chromium_without_errors_and_draws_its_heatmaps(sample_data, tmp_path):
    datasets = _datasets(sample_data)
    report = tmp_path / "report.html"
    report.write_text(render_report(datasets, _ledger(tmp_path / "ledger.jsonl")))

    page = open_page(report.as_uri(), tmp_path / "profile", DRAWN)

    assert page.errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in page.requests), page.requests
    assert len(page.value) == len(datasets)
    for drawn in page.value:
        assert drawn["drawn"] > 0 and drawn["painted"] > 0, page.value


@needs_chromium
def test_the_browser_check_does_see_a_broken_page(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<canvas class='heatmap'></canvas><script>undefinedFunction()</script>")
    page = open_page(broken.as_uri(), tmp_path / "profile", DRAWN)
    assert any("undefinedFunction" in error for error in page.errors), page.errors
    assert page.value == [{"drawn": 0, "painted": 0}]


def test_write_report_takes_coverage_from_sidecars_and_names_unreadable_outputs(
    sample_data, tmp_path
):
    data = tmp_path / "data"
    shutil.copytree(sample_data, data)
    _ledger(data / "raw" / "databento" / "ledger.jsonl")
    with (data / "raw" / "databento" / "ledger.jsonl").open("a") as handle:
        handle.write('{"event": "attempt", "job": "es", "us')  # a torn last line is skipped
    gone = data / "ingested/alpaca/alpaca_sample_csv/timeframe=1Min/feed=unknown"
    shutil.rmtree(gone.parent.parent)  # an output and its sidecar both removed
    for parquet in data.rglob("*.parquet"):
        parquet.write_bytes(b"")  # coverage comes from sidecars; pictures say what failed

    names = [name for name, _ in collect_datasets(data)]
    assert names == [
        "alpaca/alpaca_sample_json",
        "alpaca/alpaca_sample_parquet",
        "databento/databento_factors_sample",
        "databento/databento_sample/mbp-1",
        "databento/databento_sample/ohlcv-1m",
        "databento/databento_sample/trades",
        "vix/vix_fred_sample",
        "vix/vix_sample",
    ]
    out = tmp_path / "report.html"
    shown = write_report(data, out, snapshots=lambda name: [{"id": f"snap-of-{name}"}])
    page = out.read_text()
    assert shown == 8 and "snap-of-vix/vix_sample" in page
    assert "<td>es</td><td>$3.50</td><td>$3.00</td>" in page
    assert page.count("file(s) could not be read") == 8  # the factors' file too
    assert page.count("<td>100.0%</td><td>100.0%</td>") == 8  # every dataset: complete


def _summary(page: str) -> dict[str, dict[str, str]]:
    """The Datasets table: each dataset's cells by column header."""
    table = page.split("<h2>Datasets</h2>", 1)[1].split("</table>", 1)[0]
    headers = re.findall(r"<th>(.*?)</th>", table)
    out = {}
    for row in re.findall(r"<tr>(<td>.*?)</tr>", table):
        cells = re.findall(r"<td>(.*?)</td>", row)
        name = re.sub(r"<[^>]+>", "", cells[0])
        out[name] = dict(zip(headers, cells, strict=True))
    return out


def test_the_summary_counts_complete_sessions_and_sessions_with_data(sample_data):
    datasets = _datasets(sample_data)
    summary = _summary(render_report(datasets))
    trades = summary["databento/databento_sample/trades"]  # whole Globex sessions
    assert (trades["complete sessions"], trades["sessions with data"]) == ("100.0%", "100.0%")
    assert trades["judged by"] == "CMES: 17:00 (day before) to 16:00 America/Chicago"
    assert summary["vix/vix_sample"]["judged by"].startswith("XNYS trading days")
    assert "failing rows" in trades and "failing checks" not in trades
    for name, records, _ in datasets:
        statuses = coverage(records).table.column("status").to_pylist()
        expected = [s for s in statuses if s in ("present", "partial", "missing")]
        complete = 100 * expected.count("present") / len(expected)
        with_data = 100 * (len(expected) - expected.count("missing")) / len(expected)
        assert summary[name]["complete sessions"] == f"{complete:.1f}%", name
        assert summary[name]["sessions with data"] == f"{with_data:.1f}%", name
        assert summary[name]["closed-day data"] == f"{statuses.count('closed_data'):,}", name
        assert summary[name]["sessions"] == _open(records), name


def _open(records) -> str:
    """Distinct days some symbol was expected to trade, from the coverage table."""
    table = coverage(records).table.to_pylist()
    days = {r["session"] for r in table if r["status"] in ("present", "partial", "missing")}
    return f"{len(days):,}"


def test_a_dataset_shows_only_its_own_snapshot_changes(sample_data):
    datasets = [
        (name, records, [{"id": "snap-1", "datasets": [name, "other/one", "other/two"]}])
        for name, records, _ in _datasets(sample_data)
    ]
    page = render_report(datasets)
    assert "other/one" not in page and "other/two" not in page
    assert page.count("<th>other datasets changed</th>") == len(datasets)
    assert page.count("<td>snap-1</td><td>2</td>") == len(datasets)


def test_every_time_range_has_one_format(sample_data):
    page = render_report(_datasets(sample_data))
    spans = re.findall(r'<section id="ds-\d+"><h2>.*?</h2>\n<p class="meta">(.*?);', page)
    assert len(spans) == 9 and "databento" in page
    moment = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    for span in spans:
        assert re.fullmatch(f"{moment} \\.\\. {moment}", span), span


def _weekdays(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def test_a_long_history_is_shown_by_week_or_month():
    assert heatmap_period(_weekdays(date(2024, 1, 1), 200)) == "day"
    assert heatmap_period(_weekdays(date(2020, 1, 1), 1_000)) == "week"  # about 200 weeks
    assert heatmap_period(_weekdays(date(1990, 1, 1), 2_600)) == "month"  # about 500 weeks


def test_the_vix_heatmap_is_monthly_and_keeps_closed_day_marks(sample_data):
    datasets = [d for d in _datasets(sample_data) if d[0] == "vix/vix_sample"]
    page = render_report(datasets)
    data = json.loads(re.search(r'id="data-0">(.*?)</script>', page).group(1))
    statuses = coverage(datasets[0][1]).table.column("status").to_pylist()
    assert data["period"] == "month" and len(data["sessions"]) <= MAX_COLUMNS
    assert all(date.fromisoformat(day).day == 1 for day in data["sessions"])
    assert sum(data["totals"]) == sum(int(r["rows"]) for r in datasets[0][1])
    cells = "".join("".join(line) for line in data["cells"])
    for code, status in (("C", "closed_data"), ("M", "missing")):
        assert (code in cells) == (status in statuses), status
