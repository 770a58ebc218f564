"""``check``: findings of a data folder's datasets, from sidecars; --strict; unknown names."""

from __future__ import annotations

import io

from multigate.exit_codes import ExitCode
from multigate.quality.command import check_data_dir


def test_check_one_clean_dataset_and_all_of_them(sample_data):
    out = io.StringIO()
    code = check_data_dir(sample_data, ["alpaca/alpaca_sample_json"], strict=True, out=out)
    assert code == ExitCode.OK
    assert out.getvalue() == "alpaca/alpaca_sample_json: no findings\n"

    out = io.StringIO()
    assert check_data_dir(sample_data, out=out) == ExitCode.OK  # findings, but not --strict
    assert "vix/vix_sample: FAIL ohlc_inconsistent: 6" in out.getvalue()
    assert "databento/databento_sample/trades: no findings" in out.getvalue()
    assert check_data_dir(sample_data, strict=True, out=io.StringIO()) == ExitCode.QUALITY_FAILED


def test_an_unknown_dataset_lists_the_known_ones(sample_data):
    err = io.StringIO()
    code = check_data_dir(sample_data, ["vix/nope"], out=io.StringIO(), err=err)
    assert code == ExitCode.CONFIG_ERROR
    assert err.getvalue().startswith("error: unknown dataset vix/nope; known: alpaca/")
    assert "databento/databento_sample/mbp-1" in err.getvalue()
