"""Offline VIX jobs: CBOE and FRED files convert faithfully, quirky rows are kept."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from multigate.exit_codes import ExitCode
from multigate.storage.delta_tables import versioned_name
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import snapshot
from tests.vix.helpers import assert_matches_reference, cboe_bytes, fred_bytes, read_output

CONFIG = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        path: {path}
"""


def place(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_cboe_file_matches_pandas_reference(tmp_path, write_config, run_cli):
    csv = cboe_bytes()
    place(tmp_path, "VIX_History.csv", csv)
    result = run_cli("--config", write_config(CONFIG.format(path="in/*.csv")))
    assert result.code == ExitCode.OK, result.err
    output = tmp_path / "data/ingested/vix/local/VIX.parquet"
    assert_matches_reference(output, csv, "VIX")
    schema = pq.read_schema(output)
    assert schema.field("date").type == pa.date32()
    assert schema.field("close").type == pa.float64()


@pytest.mark.parametrize("date_header", ["observation_date", "DATE"])
def test_fred_file_keeps_holiday_rows_as_missing_close(
    tmp_path, write_config, run_cli, date_header
):
    csv = fred_bytes().replace(b"observation_date", date_header.encode())
    assert b",.\n" in csv  # the sample has FRED's '.' holidays
    place(tmp_path, "VIXCLS.csv", csv)
    result = run_cli("--config", write_config(CONFIG.format(path="in/VIXCLS.csv")))
    assert result.code == ExitCode.OK, result.err
    output = tmp_path / "data/ingested/vix/local/VIX.parquet"
    assert_matches_reference(output, csv, "VIX")
    missing = csv.count(b",.\n")
    assert read_output(output)["close"].isna().sum() == missing
    assert f"{missing} rows without a close" in result.out


def test_quirky_rows_are_kept_and_counted(tmp_path, write_config, run_cli):
    csv = (
        b"DATE,OPEN,HIGH,LOW,CLOSE\n"
        b"01/02/1990,17.24,17.24,17.24,17.24\n"  # close-only early year: consistent
        b"03/01/2004,19.5,19.0,17.5,17.9\n"  # OPEN above HIGH: kept, flagged
        b"03/02/2004,18.0,19.0,17.5,17.9\n"
    )
    place(tmp_path, "VIX_History.csv", csv)
    result = run_cli("--config", write_config(CONFIG.format(path="in/*.csv")))
    assert result.code == ExitCode.OK
    frame = read_output(tmp_path / "data/ingested/vix/local/VIX.parquet")
    assert len(frame) == 3
    assert "1 rows with inconsistent OHLC" in result.out


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<!DOCTYPE html><html>Error</html>\n", "not a CBOE"),
        (b"DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2004,18.0,19.0\n", ":2: expected 5 fields, got 3"),
        (b"DATE,OPEN,HIGH,LOW,CLOSE\n2004/31/31,1,1,1,1\n", "bad date"),
        (b"DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2004,x,1,1,1\n", "bad number 'x'"),
        (b"", "empty file"),
    ],
)
def test_bad_files_fail_the_job_with_the_file_named(tmp_path, write_config, run_cli, body, words):
    place(tmp_path, "VIX_History.csv", body)
    result = run_cli("--config", write_config(CONFIG.format(path="in/*.csv")))
    assert result.code == ExitCode.JOB_FAILED
    assert "VIX_History.csv" in result.err and words in result.err
    assert not (tmp_path / "data/ingested/vix/local/VIX.parquet").exists()


def test_double_star_glob_finds_files_at_any_depth(tmp_path, write_config, run_cli):
    top, deep = cboe_bytes(seed=1), cboe_bytes(seed=2)
    place(tmp_path, "VIX_History.csv", top)
    place(tmp_path, "a/b/VIX9D_History.csv", deep)
    result = run_cli("--config", write_config(CONFIG.format(path="in/**/*.csv")))
    assert result.code == ExitCode.OK, result.err
    assert_matches_reference(tmp_path / "data/ingested/vix/local/VIX.parquet", top, "VIX")
    assert_matches_reference(tmp_path / "data/ingested/vix/local/VIX9D.parquet", deep, "VIX9D")


@pytest.mark.skipif(not Path("/proc/self/mem").is_file(), reason="needs Linux /proc")
def test_a_read_error_fails_the_job_and_keeps_the_output(tmp_path, write_config, run_cli):
    """Only bad content takes an output back; a file that cannot be read (an I/O error)
    fails the job and leaves the earlier output as it was."""
    source = place(tmp_path, "VIX_History.csv", cboe_bytes())
    config = write_config(CONFIG.format(path="in/*.csv"))
    assert run_cli("--config", config).code == ExitCode.OK
    before = snapshot(tmp_path / "data/ingested")
    source.unlink()
    source.symlink_to("/proc/self/mem")  # a regular file whose read fails with EIO
    result = run_cli("--config", config)
    assert result.code != ExitCode.OK
    assert "VIX_History.csv" in result.err and "cannot read" in result.err
    assert snapshot(tmp_path / "data/ingested") == before


def test_a_retracted_output_stays_readable_from_its_snapshot(tmp_path, write_config, run_cli):
    """Taking back an output whose input went bad leaves the table's current version
    without it, and its bytes readable in the version before, as pruning a stale output
    does (one rule for both)."""
    source = place(tmp_path, "VIX_History.csv", cboe_bytes())
    config = write_config(CONFIG.format(path="in/*.csv"))
    assert run_cli("--config", config).code == ExitCode.OK
    output = tmp_path / "data/ingested/vix/local/VIX.parquet"
    sidecar = read_sidecar(output)
    assert sidecar is not None
    sha = sidecar["file"]["sha256"]
    source.write_bytes(b"not,a,vix,file\n1,2,3,4\n")
    assert run_cli("--config", config).code != ExitCode.OK
    assert not output.exists()
    table = tmp_path / "data/ingested/vix/local"
    kept = table / versioned_name(output, sha)
    assert kept.is_file() and sha256_of(kept) == sha
    assert DeltaTable(str(table)).file_uris() == []  # the failed run's commit took it back
    assert DeltaTable(str(table), version=0).to_pyarrow_table().num_rows > 0


def test_no_matching_files_is_a_config_error(tmp_path, write_config, run_cli):
    (tmp_path / "in").mkdir()
    result = run_cli("--config", write_config(CONFIG.format(path="in/*.csv")))
    assert result.code == ExitCode.CONFIG_ERROR
    assert "path (job 'local'): 'in/*.csv' matches no CSV file" in result.err


def test_date_window_filters_rows(tmp_path, write_config, run_cli):
    csv = cboe_bytes()
    place(tmp_path, "VIX_History.csv", csv)
    config = CONFIG.format(path="in/*.csv") + "        start: 1991-01-01\n        end: 1991-06-30\n"
    assert run_cli("--config", write_config(config)).code == ExitCode.OK
    frame = read_output(tmp_path / "data/ingested/vix/local/VIX.parquet")
    assert str(frame["date"].min()) >= "1991-01-01" and str(frame["date"].max()) <= "1991-06-30"
    assert 100 < len(frame) < 140  # about half a year of business days
