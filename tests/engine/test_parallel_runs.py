"""The engine runs a VIX job's conversions serially, in a process pool or on Dask: the same
bytes every way, nothing written twice, and a bad input publishes nothing."""

from __future__ import annotations

import pytest

from multigate.exit_codes import ExitCode
from multigate.storage.layout import sidecar_path
from tests.conftest import engine_outputs, snapshot
from tests.engine.helpers import CONFIG, OUT, leftovers, published, write_many_symbols


def test_output_bytes_are_identical_for_one_two_workers_and_dask(
    tmp_path, write_config, run_cli, executor_args
):
    symbols = write_many_symbols(tmp_path / "in")
    results = {}
    for kind in ("1", "2", "dask"):
        data = f"data-{kind}"
        config = write_config(CONFIG.format(data=data))
        run = run_cli("--config", config, *executor_args(kind))
        assert run.code == ExitCode.OK, run.err
        results[kind] = published(tmp_path / data)
    assert len(results["1"]) == len(symbols)
    assert results["2"] == results["1"]
    assert results["dask"] == results["1"]
    record = results["1"]["VIX.parquet"][1]
    assert len(record["inputs"]) == 2 and record["vendor"]["vendor"] == "CBOE+FRED"


@pytest.mark.parametrize("kind", ["2", "dask"])
def test_second_run_writes_nothing(tmp_path, write_config, run_cli, executor_args, kind):
    write_many_symbols(tmp_path / "in", symbols=6, days=800)
    config = write_config(CONFIG.format(data="data"))
    args = executor_args(kind)
    first = run_cli("--config", config, *args)
    assert first.code == ExitCode.OK, first.err
    before = snapshot(tmp_path / "data")
    second = run_cli("--config", config, *args)
    assert second.code == ExitCode.OK, second.err
    assert "up to date" in second.out
    assert snapshot(tmp_path / "data") == before


@pytest.mark.parametrize("kind", ["1", "2", "dask"])
def test_a_bad_input_fails_the_job_cleanly_and_publishes_nothing(
    tmp_path, write_config, run_cli, executor_args, kind
):
    write_many_symbols(tmp_path / "in", symbols=8, days=800)
    bad = tmp_path / "in/recent/IDX05_History.csv"
    bad.write_bytes(b"DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2004,18.0,x,17.0,17.5\n")
    config = write_config(CONFIG.format(data="data"))
    result = run_cli("--config", config, *executor_args(kind))
    assert result.code == ExitCode.JOB_FAILED
    assert "IDX05_History.csv:2: bad number 'x'" in result.err
    assert "Traceback" not in result.err and "Traceback" not in result.out
    assert not list(engine_outputs(tmp_path / "data", recursive=True))
    assert leftovers(tmp_path / "data") == []


def test_a_failing_symbol_after_a_good_run_keeps_the_others_and_loses_its_own(
    tmp_path, write_config, run_cli
):
    write_many_symbols(tmp_path / "in", symbols=6, days=800)
    config = write_config(CONFIG.format(data="data"))
    assert run_cli("--config", config, "--workers", "2").code == ExitCode.OK
    kept = published(tmp_path / "data")
    (tmp_path / "in/recent/IDX02_History.csv").write_bytes(b"<html>oops</html>\n")
    (tmp_path / "in/recent/IDX03_History.csv").write_bytes(b"")
    result = run_cli("--config", config, "--workers", "2")
    assert result.code == ExitCode.JOB_FAILED
    assert "2 problems" in result.err and "IDX02" in result.err and "IDX03" in result.err
    now = published(tmp_path / "data")
    assert set(now) == set(kept) - {"IDX02.parquet", "IDX03.parquet"}
    assert all(now[name] == kept[name] for name in now)
    assert not sidecar_path(tmp_path / "data" / OUT / "IDX02.parquet").exists()
