"""The HTML report: built from sidecars, self-contained, and drawn in a real browser."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from multigate.html_report import collect_datasets, render_report, spend_by_job, write_report
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
    assert page.count('<canvas class="heatmap"') == len(datasets) == 8
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


def test_write_report_reads_sidecars_only_and_the_ledger(sample_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(sample_data, data)
    _ledger(data / "raw" / "databento" / "ledger.jsonl")
    with (data / "raw" / "databento" / "ledger.jsonl").open("a") as handle:
        handle.write('{"event": "attempt", "job": "es", "us')  # a torn last line is skipped
    gone = data / "ingested/alpaca/alpaca_sample_csv/timeframe=1Min/feed=unknown"
    shutil.rmtree(gone.parent.parent)  # an output and its sidecar both removed
    for parquet in data.rglob("*.parquet"):
        parquet.write_bytes(b"")  # no Parquet is read: they could be anything

    names = [name for name, _ in collect_datasets(data)]
    assert names == [
        "alpaca/alpaca_sample_json",
        "alpaca/alpaca_sample_parquet",
        "databento/databento_sample/mbp-1",
        "databento/databento_sample/ohlcv-1m",
        "databento/databento_sample/trades",
        "vix/vix_fred_sample",
        "vix/vix_sample",
    ]
    out = tmp_path / "report.html"
    shown = write_report(data, out, snapshots=lambda name: [{"id": f"snap-of-{name}"}])
    page = out.read_text()
    assert shown == 7 and "snap-of-vix/vix_sample" in page
    assert "<td>es</td><td>$3.50</td><td>$3.00</td>" in page
