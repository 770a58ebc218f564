"""``--strict``: flagged data is kept, and the exit status says a check failed."""

from __future__ import annotations

import shutil

from multigate.exit_codes import ExitCode
from multigate.sample import write_samples
from tests.conftest import snapshot
from tests.quality.conftest import EXAMPLE


def test_ingest_strict_exits_5_on_failed_checks_and_keeps_every_row(tmp_path, run_cli):
    config = tmp_path / "ingest.yaml"
    shutil.copy(EXAMPLE, config)
    write_samples(tmp_path / "data")

    clean = run_cli("--config", config, "--job", "alpaca_sample_json", "--strict")
    assert clean.code == ExitCode.OK, clean.err

    flagged = run_cli("--config", config, "--job", "vix_sample", "--strict")
    assert flagged.code == ExitCode.QUALITY_FAILED
    assert "vix/vix_sample: FAIL ohlc_inconsistent: 6 in ingested/vix/vix_sample/VIX.parquet" in (
        flagged.err
    )
    assert "quality checks failed: ohlc_inconsistent" in flagged.err
    assert "closed_day_data" not in flagged.err  # the sample trades on NYSE sessions
    assert (tmp_path / "data/ingested/vix/vix_sample/VIX.parquet").is_file()

    # an up-to-date re-run is judged by the stored results, and rewrites nothing
    before = snapshot(tmp_path / "data")
    again = run_cli("--config", config, "--job", "vix_sample", "--strict")
    assert again.code == ExitCode.QUALITY_FAILED
    assert snapshot(tmp_path / "data") == before
    assert run_cli("--config", config, "--job", "vix_sample").code == ExitCode.OK
