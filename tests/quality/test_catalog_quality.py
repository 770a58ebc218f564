"""Catalog.quality / Catalog.coverage and ``multigate check`` / ``multigate report``."""

from __future__ import annotations

import pytest

from multigate import Catalog
from multigate.console import main as console
from multigate.exit_codes import ExitCode
from multigate.quality.coverage import coverage_table
from multigate.quality.results import quality_table
from tests.quality.conftest import ingested_records


def _records_of(data_dir, source, job, schema=None):
    return [
        record
        for record in ingested_records(data_dir).values()
        if (record["source"], record["job"]) == (source, job)
        and (schema is None or record["vendor"].get("schema") == schema)
    ]


def test_catalog_quality_and_coverage_come_from_the_sidecars(sample_data):
    cat = Catalog.open(sample_data)
    names = {info.name for info in cat.datasets()}
    assert "vix/vix_sample" in names
    vix = _records_of(sample_data, "vix", "vix_sample")
    assert cat.quality("vix/vix_sample").equals(quality_table(vix))
    assert cat.coverage("vix/vix_sample").equals(coverage_table(vix))
    mbp = next(name for name in names if name.startswith("databento/") and "mbp-1" in name)
    # regular-hours bars: whole NYSE sessions, but only part of each UTC day
    assert set(cat.coverage("alpaca/alpaca_sample_csv").column("status").to_pylist()) == {"present"}
    utc_days = cat.coverage("alpaca/alpaca_sample_csv", calendar="none")
    assert set(utc_days.column("status").to_pylist()) == {"partial"}
    crossed = [r for r in cat.quality(mbp).to_pylist() if r["check"] == "crossed_book"]
    assert [r["count"] for r in crossed] == [0]


def test_check_and_report_commands(sample_data, tmp_path, capsys):
    where = ["--data-dir", str(sample_data)]
    assert console(["check", *where, "alpaca/alpaca_sample_json", "--strict"]) == ExitCode.OK
    assert console(["check", *where, "--strict"]) == ExitCode.QUALITY_FAILED
    assert "vix/vix_sample: FAIL ohlc_inconsistent: 6" in capsys.readouterr().out
    assert console(["check", *where, "vix/nope"]) == ExitCode.CONFIG_ERROR
    assert "known datasets: alpaca/" in capsys.readouterr().err

    out = tmp_path / "report.html"
    assert console(["report", *where, "--out", str(out)]) == ExitCode.OK
    page = out.read_text()
    assert page.count('<canvas class="heatmap"') == len(Catalog.open(sample_data).datasets())
    snapshot = Catalog.open(sample_data).snapshots("vix/vix_sample")[-1].id
    assert snapshot in page


@pytest.mark.parametrize("name", ["vix/vix_sample", "alpaca/alpaca_sample_csv"])
def test_unknown_calendar_names_are_refused(sample_data, name):
    with pytest.raises(ValueError, match="not a known exchange calendar"):
        Catalog.open(sample_data).coverage(name, calendar="XNYZ")
