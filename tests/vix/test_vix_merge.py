"""Files of one symbol merge by date; a conflict or a bad file fails the whole job, which
then publishes nothing and leaves no complete-looking output for the failing symbol."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from multigate.exit_codes import ExitCode
from multigate.sample.vix import SEED, cboe_csv, fred_csv, synthetic_history
from multigate.storage.layout import sidecar_path
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import engine_outputs, snapshot
from tests.vix.helpers import cboe_bytes, read_output, reference_frame

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
OUT = "data/ingested/vix/local"


def place(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def config(write_config, path: str = "in/*/*.csv") -> Path:
    return write_config(CONFIG.format(path=path))


def test_old_archive_and_recent_download_merge_into_one_history(tmp_path, write_config, run_cli):
    rows = synthetic_history(days=600)
    old, recent = (
        place(tmp_path, "archive/VIX_History.csv", cboe_csv(rows[:400])),
        place(tmp_path, "recent/VIX_History.csv", cboe_csv(rows[300:])),
    )
    result = run_cli("--config", config(write_config))
    assert result.code == ExitCode.OK, result.err
    output = tmp_path / OUT / "VIX.parquet"
    want = reference_frame(cboe_csv(rows), "VIX")  # the whole history, read by pandas alone
    pd.testing.assert_frame_equal(read_output(output), want, check_dtype=False)
    sidecar = read_sidecar(output)
    assert sidecar is not None
    assert sorted(item["sha256"] for item in sidecar["inputs"]) == sorted(
        [sha256_of(old), sha256_of(recent)]
    )
    assert sidecar["rows"] == 600 and sidecar["extra"]["dates_in_several_files"] == 100
    assert run_cli("--config", config(write_config)).code == ExitCode.OK  # and it stays current
    assert "up to date" in run_cli("--config", config(write_config)).out


def test_cboe_and_fred_of_one_index_merge_filling_each_others_gaps(tmp_path, write_config, run_cli):
    rows = synthetic_history(days=600)
    cboe, fred = cboe_csv(rows[:500]), fred_csv(rows)  # FRED runs longer, has '.' holidays
    place(tmp_path, "cboe/VIX_History.csv", cboe)
    place(tmp_path, "fred/VIXCLS.csv", fred)
    result = run_cli("--config", config(write_config))
    assert result.code == ExitCode.OK, result.err
    by_date = ["date", "symbol"]
    want = (
        reference_frame(cboe, "VIX")
        .set_index(by_date)
        .combine_first(reference_frame(fred, "VIX").set_index(by_date))
        .reset_index()[["date", "symbol", "open", "high", "low", "close"]]
    )
    got = read_output(tmp_path / OUT / "VIX.parquet")
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["close"].notna().sum() > 500  # CBOE filled FRED's holidays, FRED the tail
    assert got["open"].isna().sum() == 100
    sidecar = read_sidecar(tmp_path / OUT / "VIX.parquet")
    assert sidecar is not None and sidecar["vendor"]["vendor"] == "CBOE+FRED"


def test_a_date_whose_values_differ_fails_naming_both_files_and_writes_nothing(
    tmp_path, write_config, run_cli
):
    rows = synthetic_history(days=600)
    changed = list(rows)
    day, o, h, lo, c = changed[450]
    changed[450] = (day, o, h, lo, round(c + 0.5, 2))
    place(tmp_path, "archive/VIX_History.csv", cboe_csv(rows[:500]))
    place(tmp_path, "recent/VIX_History.csv", cboe_csv(changed[400:]))
    place(tmp_path, "recent/VIX3M_History.csv", cboe_bytes(seed=SEED + 7))
    result = run_cli("--config", config(write_config))
    assert result.code == ExitCode.JOB_FAILED
    message = result.err.replace("\n", " ")
    assert "archive/VIX_History.csv" in message and "recent/VIX_History.csv" in message
    assert day.isoformat() in message
    assert not (tmp_path / OUT).exists() or not list((tmp_path / OUT).iterdir())


def test_a_failing_symbol_loses_its_old_output_and_the_others_keep_theirs(
    tmp_path, write_config, run_cli
):
    rows = synthetic_history(days=600)
    place(tmp_path, "recent/VIX_History.csv", cboe_csv(rows[300:]))
    place(tmp_path, "recent/VIX3M_History.csv", cboe_bytes(seed=SEED + 7))
    assert run_cli("--config", config(write_config)).code == ExitCode.OK
    vix3m = tmp_path / OUT / "VIX3M.parquet"
    kept = (vix3m.read_bytes(), sidecar_path(vix3m).read_bytes())

    day, o, h, lo, c = rows[350]
    archive = [*rows[:350], (day, o, h, lo, c * 2), *rows[351:400]]
    place(tmp_path, "archive/VIX_History.csv", cboe_csv(archive))
    for _ in range(2):  # the failure, and a re-run of it, leave no VIX output
        result = run_cli("--config", config(write_config))
        assert result.code == ExitCode.JOB_FAILED
        assert day.isoformat() in result.err
        assert not (tmp_path / OUT / "VIX.parquet").exists()
        assert not sidecar_path(tmp_path / OUT / "VIX.parquet").exists()
    assert (vix3m.read_bytes(), sidecar_path(vix3m).read_bytes()) == kept


def test_a_bad_file_stops_every_output_of_the_job(tmp_path, write_config, run_cli):
    place(tmp_path, "a/VIX3M_History.csv", cboe_bytes(seed=SEED + 7))
    place(tmp_path, "a/VIX_History.csv", b"DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2004,1,1\n")
    result = run_cli("--config", config(write_config))
    assert result.code == ExitCode.JOB_FAILED
    assert "VIX_History.csv:2: expected 5 fields" in result.err
    assert not list(engine_outputs(tmp_path / "data", recursive=True))


def test_dry_run_foresees_conflicting_files_and_writes_nothing(tmp_path, write_config, run_cli):
    rows = synthetic_history(days=600)
    day, o, h, lo, c = rows[10]
    place(tmp_path, "archive/VIX_History.csv", cboe_csv(rows[:100]))
    place(tmp_path, "recent/VIX_History.csv", cboe_csv([(day, o + 1, h + 1, lo, c), *rows[11:]]))
    dry = run_cli("--config", config(write_config), "--dry-run")
    assert dry.code == ExitCode.JOB_FAILED  # what the real run would say
    assert day.isoformat() in dry.out.replace("\n", " ")
    assert not (tmp_path / "data").exists()
    real = run_cli("--config", config(write_config))
    assert real.code == ExitCode.JOB_FAILED and day.isoformat() in real.err


def test_close_only_rows_are_counted_in_summary_and_sidecar(tmp_path, write_config, run_cli):
    csv = cboe_bytes()
    place(tmp_path, "a/VIX_History.csv", csv)
    result = run_cli("--config", config(write_config))
    assert result.code == ExitCode.OK, result.err
    frame = reference_frame(csv, "VIX")
    close_only = int(
        ((frame.open == frame.high) & (frame.high == frame.low) & (frame.low == frame.close)).sum()
    )
    assert close_only > 400  # 1990-1991 in the synthetic history
    sidecar = read_sidecar(tmp_path / OUT / "VIX.parquet")
    assert sidecar is not None and sidecar["extra"]["close_only_rows"] == close_only
    assert f"{close_only} close-only rows" in result.out.replace("\n", " ")
    before = snapshot(tmp_path / "data")
    assert run_cli("--config", config(write_config)).code == ExitCode.OK
    assert snapshot(tmp_path / "data") == before
