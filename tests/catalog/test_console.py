"""The ``multigate`` command: ingest, ls, show, read, snapshots (list and prune)."""

from __future__ import annotations

from importlib.metadata import entry_points

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from multigate import Catalog
from multigate.console import main
from multigate.exit_codes import ExitCode
from multigate.sample.vix import cboe_csv, synthetic_history
from tests.catalog.helpers import CONFIG, DATASETS, assert_same_rows, write_all_inputs, write_vix


@pytest.fixture
def multigate(capsys):
    def call(*args):
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


def test_the_console_script_is_installed():
    """``multigate`` starts through the guarded entry (SIGTERM during start-up is 143)."""
    from multigate.entry import run_console

    (script,) = entry_points(group="console_scripts", name="multigate")
    assert script.load() is run_console


def test_ingest_then_ls_and_show(tmp_path, write_config, multigate):
    write_all_inputs(tmp_path)
    config = write_config(CONFIG)
    code, out, _ = multigate("ingest", "--config", config, "-q")
    assert code == ExitCode.OK and "vix_daily" in out
    assert (tmp_path / "data/ingested/vix/vix_daily/VIX.parquet").is_file()

    code, out, _ = multigate("ls", "--config", config)
    assert code == ExitCode.OK
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == sorted(DATASETS)
    code, out, _ = multigate("ls", "--data-dir", tmp_path / "data")
    assert [line.split()[0] for line in out.splitlines()[1:]] == listed

    code, out, _ = multigate("show", "alpaca/eq_1m", "--config", config)
    assert code == ExitCode.OK
    assert "time column  timestamp" in out and "MSFT, SPY" in out
    assert "vwap" in out and "snapshots    1" in out


def test_read_writes_parquet_and_csv(ingested, multigate, tmp_path):
    catalog = Catalog.from_config(ingested)
    want = catalog.read("alpaca/eq_1m", symbols=["SPY"], start="2024-01-03", end="2024-01-04")
    out = tmp_path / "spy.parquet"
    args = (
        "--symbols",
        "SPY",
        "--start",
        "2024-01-03",
        "--end",
        "2024-01-04",
        "--config",
        ingested,
    )
    code, text, err = multigate("read", "alpaca/eq_1m", *args, "--out", out)
    assert code == ExitCode.OK, err
    assert f"wrote {want.num_rows:,} rows" in text
    got = pq.read_table(out)
    assert got.schema == want.schema
    assert_same_rows(got, want.to_pandas())

    csv = tmp_path / "vix.csv"
    code, _, _ = multigate(
        "read", "vix/vix_daily", "--config", ingested, "--columns", "date,close", "--out", csv
    )
    assert code == ExitCode.OK
    table = pacsv.read_csv(csv)
    expected = catalog.read("vix/vix_daily", columns=["date", "close"])
    assert table.column_names == ["date", "close"]
    assert table["close"].to_pylist() == expected["close"].to_pylist()


def test_read_as_of_a_snapshot(ingested, multigate, tmp_path):
    (first,) = Catalog.from_config(ingested).snapshots()
    old = Catalog.from_config(ingested).read("vix/vix_daily")
    write_vix(ingested.parent, seed=123)
    assert multigate("ingest", "--config", ingested, "-q")[0] == ExitCode.OK
    out = tmp_path / "old.parquet"
    code, _, err = multigate(
        "read", "vix/vix_daily", "--as-of", first.id, "--config", ingested, "--out", out
    )
    assert code == ExitCode.OK, err
    assert_same_rows(pq.read_table(out), old.to_pandas())
    assert not pq.read_table(out).equals(Catalog.from_config(ingested).read("vix/vix_daily"))


def test_unknown_dataset_and_bad_input_are_clear_errors(ingested, multigate, tmp_path):
    code, _, err = multigate(
        "read", "vix/daily", "--config", ingested, "--out", tmp_path / "x.parquet"
    )
    assert code == ExitCode.CONFIG_ERROR
    assert "unknown dataset 'vix/daily'" in err and "vix/vix_daily" in err and "alpaca/eq_1m" in err
    code, _, err = multigate("show", "nope", "--config", ingested)
    assert code == ExitCode.CONFIG_ERROR and "databento/es_trades" in err
    code, _, err = multigate(
        "read", "vix/vix_daily", "--config", ingested, "--out", tmp_path / "x.json"
    )
    assert code == ExitCode.CONFIG_ERROR and ".parquet or .csv" in err
    code, _, err = multigate(
        "read",
        "vix/vix_daily",
        "--config",
        ingested,
        "--start",
        "soon",
        "--out",
        tmp_path / "x.csv",
    )
    assert code == ExitCode.CONFIG_ERROR and "not a date" in err
    code, _, err = multigate("ls", "--config", tmp_path / "missing.yaml")
    assert code == ExitCode.CONFIG_ERROR and "not found" in err
    assert not (tmp_path / "x.parquet").exists()


def test_snapshots_list_and_prune(ingested, multigate):
    data_dir = ingested.parent / "data"
    for seed in (5, 6, 7):
        (ingested.parent / "inputs/vix/VIX_History.csv").write_bytes(
            cboe_csv(synthetic_history(seed=seed, days=300))
        )
        assert multigate("ingest", "--config", ingested, "-q")[0] == ExitCode.OK
    ids = [s.id for s in Catalog.open(data_dir).snapshots()]
    assert len(ids) == 4
    code, out, _ = multigate("snapshots", "--config", ingested)
    assert code == ExitCode.OK and all(sid in out for sid in ids)
    code, out, _ = multigate("snapshots", "--dataset", "alpaca/eq_1m", "--config", ingested)
    assert ids[0] in out and ids[1] not in out

    code, _, err = multigate("snapshots", "prune", "--config", ingested)
    assert code == ExitCode.CONFIG_ERROR and "--keep" in err
    assert [s.id for s in Catalog.open(data_dir).snapshots()] == ids  # nothing pruned by default

    code, out, _ = multigate("snapshots", "prune", "--keep", "2", "--config", ingested)
    assert code == ExitCode.OK and "removed 1 snapshot(s)" in out
    assert [s.id for s in Catalog.open(data_dir).snapshots()] == [ids[0], ids[2], ids[3]]
    code, out, _ = multigate("snapshots", "prune", "--before", "2000-01-01", "--config", ingested)
    assert code == ExitCode.OK and "removed 0 snapshot(s)" in out
    code, out, _ = multigate("snapshots", "prune", "--before", "2999-01-01", "--config", ingested)
    assert "removed 1 snapshot(s)" in out  # the first and last stay: they are jobs' latest
    assert [s.id for s in Catalog.open(data_dir).snapshots()] == [ids[0], ids[3]]
