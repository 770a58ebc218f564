"""Which jobs run: enable/mode rules, --source/--job filters, exit codes, --help."""

from __future__ import annotations

from pathlib import Path

import pytest

from multigate.cli import build_parser
from multigate.exit_codes import ExitCode
from multigate.sample.vix import write_vix_samples

CONFIG = """\
data_dir: data
sources:
  vix:
    enabled: {enabled}
    mode: offline
    jobs:
      - name: cboe
        mode: offline
        path: samples/*_History.csv
      - name: fred
        mode: offline
        path: samples/fred/VIXCLS.csv
      - name: parked
        mode: offline
        enabled: false
        path: samples/*_History.csv
      - name: daily
        mode: api
        symbols: [VIX]
"""


@pytest.fixture
def config(tmp_path: Path, write_config) -> Path:
    write_vix_samples(tmp_path / "samples")
    return write_config(CONFIG.format(enabled="true"))


def summary_row(out: str, job: str) -> str:
    return next(line for line in out.splitlines() if f" {job} " in line)


def test_runs_enabled_jobs_of_the_sources_mode_and_says_why_others_skip(tmp_path, config, run_cli):
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    assert (tmp_path / "data/ingested/vix/cboe/VIX.parquet").exists()
    assert (tmp_path / "data/ingested/vix/cboe/VIX3M.parquet").exists()
    assert (tmp_path / "data/ingested/vix/fred/VIX.parquet").exists()
    assert not (tmp_path / "data/ingested/vix/parked").exists()
    assert not (tmp_path / "data/ingested/vix/daily").exists()
    assert "job disabled" in summary_row(result.out, "parked")
    assert "source mode is offline" in summary_row(result.out, "daily")
    assert " ok " in summary_row(result.out, "cboe")


def test_disabled_source_runs_nothing(tmp_path, write_config, run_cli):
    write_vix_samples(tmp_path / "samples")
    result = run_cli("--config", write_config(CONFIG.format(enabled="false")))
    assert result.code == ExitCode.OK
    assert not (tmp_path / "data").exists()
    assert "source disabled" in summary_row(result.out, "cboe")


def test_job_filter_runs_only_that_job(tmp_path, config, run_cli):
    result = run_cli("--config", config, "--job", "fred")
    assert result.code == ExitCode.OK
    assert (tmp_path / "data/ingested/vix/fred/VIX.parquet").exists()
    assert not (tmp_path / "data/ingested/vix/cboe").exists()
    assert " cboe " not in result.out


@pytest.mark.parametrize(("flag", "name"), [("--job", "nope"), ("--source", "databentoo")])
def test_unknown_filter_is_a_config_error(tmp_path, config, run_cli, flag, name):
    result = run_cli("--config", config, flag, name)
    assert result.code == ExitCode.CONFIG_ERROR
    assert name in result.err and "not in" in result.err
    assert not (tmp_path / "data").exists()


def test_force_rewrites_current_outputs(tmp_path, config, run_cli):
    assert run_cli("--config", config, "--job", "fred").code == ExitCode.OK
    output = tmp_path / "data/ingested/vix/fred/VIX.parquet"
    first = output.stat().st_mtime_ns
    assert "up to date" in run_cli("--config", config, "--job", "fred").out
    assert output.stat().st_mtime_ns == first
    result = run_cli("--config", config, "--job", "fred", "--force")
    assert " ok " in summary_row(result.out, "fred")
    assert output.stat().st_mtime_ns != first


def test_changed_input_is_reconverted(tmp_path, config, run_cli):
    assert run_cli("--config", config, "--job", "fred").code == ExitCode.OK
    source = tmp_path / "samples/fred/VIXCLS.csv"
    source.write_text(source.read_text() + "2030-01-02,99.00\n")
    result = run_cli("--config", config, "--job", "fred")
    assert " ok " in summary_row(result.out, "fred")
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "data/ingested/vix/fred/VIX.parquet")
    assert table["close"][-1].as_py() == 99.0


def test_one_failing_job_does_not_stop_the_others(tmp_path, config, run_cli):
    (tmp_path / "samples/fred/VIXCLS.csv").write_text("<html>not csv</html>\n")
    result = run_cli("--config", config)
    assert result.code == ExitCode.JOB_FAILED
    assert " failed " in summary_row(result.out, "fred")
    assert (tmp_path / "data/ingested/vix/cboe/VIX.parquet").exists()


def test_dry_run_touches_nothing(tmp_path, config, run_cli):
    result = run_cli("--config", config, "--dry-run")
    assert result.code == ExitCode.OK
    assert not (tmp_path / "data").exists()
    assert "samples/fred/VIXCLS.csv" in result.out
    assert "ingested/vix/cboe/VIX3M.parquet" in result.out


def test_help_documents_flags_and_exit_codes():
    text = build_parser().format_help()
    for flag in (
        "--config",
        "--source",
        "--job",
        "--dry-run",
        "--yes",
        "--force",
        "-v",
        "-q",
        "--env-file",
    ):
        assert flag in text
    for code in ExitCode:
        assert f"  {code.value} " in text


def test_dry_run_tells_current_outputs_from_ones_it_would_write(tmp_path, config, run_cli):
    assert run_cli("--config", config, "--job", "fred").code == ExitCode.OK
    result = run_cli("--config", config, "--dry-run")
    lines = result.out.splitlines()
    assert any(line.split()[:1] == ["current"] and "fred/VIX.parquet" in line for line in lines)
    assert any(line.split()[:1] == ["write"] and "cboe/VIX3M.parquet" in line for line in lines)


TWO_SOURCES = (
    CONFIG
    + """\
  alpaca:
    enabled: false
    mode: offline
    jobs:
      - name: bars
        mode: offline
        timeframe: 1Min
        path: nowhere/*.csv
"""
)


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        (["--job", "parked"], "vix/parked (job disabled)"),
        (["--job", "daily"], "vix/daily (source mode is offline)"),
        (["--source", "alpaca"], "alpaca/bars (source disabled)"),
        (["--source", "vix", "--job", "bars"], "bars is a job of source alpaca"),
    ],
)
def test_filters_that_leave_nothing_to_run_are_config_errors_saying_why(
    tmp_path, write_config, run_cli, filters, words
):
    write_vix_samples(tmp_path / "samples")
    config = write_config(TWO_SOURCES.format(enabled="true"))
    for dry_run in ([], ["--dry-run"]):
        result = run_cli("--config", config, *filters, *dry_run)
        assert result.code == ExitCode.CONFIG_ERROR, result.out
        assert words in result.err and " ".join(filters) in result.err
        assert "does not exist" not in result.err  # a skipped job's inputs are not checked
    assert not (tmp_path / "data").exists()
