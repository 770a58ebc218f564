"""(group ``vendor_samples``) Quality checks on outputs of the real vendor sample files."""

from __future__ import annotations

from multigate.exit_codes import ExitCode
from multigate.quality.command import check_data_dir
from multigate.quality.job_outputs import collect_datasets
from multigate.quality.results import quality_rows

CLEAN = ("missing_session", "closed_day_data", "duplicate_timestamp", "non_monotonic",
         "missing_time", "ohlc_inconsistent", "crossed_book")  # fmt: skip
VENUE_CALENDARS = {"GLBX": "CMES", "XNAS": "XNYS", "EQUS": "XNYS", "OPRA": "XNYS"}


def test_real_databento_samples_carry_sane_quality(testdata, tmp_path, write_config, run_cli):
    config = write_config(
        f"""
        sources:
          databento:
            enabled: true
            mode: offline
            jobs:
              - name: real
                mode: offline
                raw_dir: {testdata / "databento" / "databento-python"}
        """
    )
    assert run_cli("--config", config, "-q").code == ExitCode.OK
    datasets = dict(collect_datasets(tmp_path / "data"))
    assert len(datasets) >= 15
    for name, records in datasets.items():
        for record in records:
            quality = record["quality"]
            assert "error" not in quality, (name, quality)
            venue = record["vendor"]["dataset"].split(".")[0]
            assert quality["calendar"] == VENUE_CALENDARS[venue], (name, venue)
        found = {}
        for row in quality_rows(records):
            found[row["check"]] = found.get(row["check"], 0) + row["count"]
        # the samples are a few minutes of real, ordered data: no gaps between sessions, no
        # data on closed days, no repeats within a venue; being short, they are partial
        for check in CLEAN:
            assert found.get(check, 0) == 0, (name, check, found)
    assert check_data_dir(tmp_path / "data", strict=True) == ExitCode.QUALITY_FAILED  # partial
