"""The ``engine:`` block and the executor flags: strict, and a remote Dask scheduler is
refused when the data folder is a path only this machine sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from multigate.config.models import EngineSettings
from multigate.engine.choose import check_data_dir_reachable, make_executor, scheduler_is_local
from multigate.engine.executors import ProcessExecutor, SerialExecutor
from multigate.errors import ConfigError
from multigate.exit_codes import ExitCode
from tests.conftest import engine_outputs
from tests.engine.helpers import CONFIG, write_many_symbols


def config_with_engine(write_config, engine: str) -> Path:
    return write_config(CONFIG.format(data="data") + engine)


def test_remote_scheduler_with_a_local_data_folder_is_refused(tmp_path, write_config, run_cli):
    write_many_symbols(tmp_path / "in", symbols=2, days=100)
    config = config_with_engine(
        write_config, "engine:\n  executor: dask\n  scheduler: tcp://10.20.30.40:8786\n"
    )
    result = run_cli("--config", config)
    assert result.code == ExitCode.CONFIG_ERROR
    assert "tcp://10.20.30.40:8786 is on another machine" in result.err
    assert str(tmp_path / "data") in result.err and "shared_filesystem: true" in result.err
    assert not (tmp_path / "data").exists()


def test_remote_scheduler_flag_is_refused_too(tmp_path, write_config, run_cli):
    write_many_symbols(tmp_path / "in", symbols=2, days=100)
    config = write_config(CONFIG.format(data="data"))
    result = run_cli("--config", config, "--executor", "dask", "--scheduler", "dask-head:8786")
    assert result.code == ExitCode.CONFIG_ERROR
    assert "dask-head:8786 is on another machine" in result.err


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("tcp://127.0.0.1:8786", True),
        ("tcp://localhost:40123", True),
        ("inproc://10.0.0.1/1234/1", True),
        ("127.0.0.1:8786", True),
        ("tcp://10.0.0.5:8786", False),
        ("tls://scheduler.example.org:8786", False),
    ],
)
def test_which_scheduler_addresses_are_local(address, local):
    assert scheduler_is_local(address) is local


def test_a_shared_filesystem_said_so_is_accepted(tmp_path):
    settings = EngineSettings(
        executor="dask", scheduler="tcp://10.0.0.5:8786", shared_filesystem=True
    )
    check_data_dir_reachable(settings, tmp_path)  # no error
    with pytest.raises(ConfigError, match="on another machine"):
        check_data_dir_reachable(settings.model_copy(update={"shared_filesystem": False}), tmp_path)


def test_workers_pick_the_executor(tmp_path):
    assert isinstance(make_executor(EngineSettings(workers=1), tmp_path), SerialExecutor)
    pool = make_executor(EngineSettings(workers=3), tmp_path)
    assert isinstance(pool, ProcessExecutor) and pool.workers == 3


def test_engine_block_is_strict(tmp_path, write_config, run_cli):
    write_many_symbols(tmp_path / "in", symbols=1, days=100)
    config = config_with_engine(write_config, "engine:\n  workers: 0\n  executer: dask\n")
    result = run_cli("--config", config)
    assert result.code == ExitCode.CONFIG_ERROR
    assert "engine.workers" in result.err and "engine.executer" in result.err


def test_engine_block_sets_the_workers(tmp_path, write_config, run_cli):
    write_many_symbols(tmp_path / "in", symbols=3, days=100)
    result = run_cli("--config", config_with_engine(write_config, "engine:\n  workers: 1\n"))
    assert result.code == ExitCode.OK, result.err
    assert len(list(engine_outputs(tmp_path / "data", recursive=True))) == 3


@pytest.mark.parametrize("flags", [[], ["--executor", "dask"]], ids=["implied", "explicit"])
def test_an_unreachable_scheduler_stops_the_run_at_start(
    tmp_path, write_config, run_cli, closed_port, flags
):
    """--scheduler alone means Dask; a scheduler nobody answers at is one error line before
    any job runs (not one wait per job)."""
    write_many_symbols(tmp_path / "in", symbols=2, days=100)
    config = write_config(
        CONFIG.format(data="data") + "      - name: again\n        mode: offline\n"
        "        path: in/*/*.csv\n"
    )
    address = f"tcp://127.0.0.1:{closed_port()}"
    result = run_cli("--config", config, *flags, "--scheduler", address)
    assert result.code == ExitCode.CONFIG_ERROR, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and f"Dask scheduler at {address}" in lines[0], result.err
    assert not list(engine_outputs(tmp_path / "data", recursive=True))


def test_the_runs_own_local_cluster_takes_no_fixed_port(recwarn):
    """Without --scheduler the run starts a LocalCluster: no dashboard, and its scheduler's
    HTTP routes on a free port, not Dask's default 8787 -- which another run, a notebook's
    cluster or another test worker may hold (here, this test holds it when it can)."""
    import socket

    pytest.importorskip("distributed")
    from multigate.engine.dask_executor import DaskExecutor

    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", 8787))
            holder.listen()
        except OSError:
            pass  # taken already: the same situation
        executor = DaskExecutor(None, 1)
        try:
            executor._connect()
            server = executor._cluster.scheduler.http_server
            assert (server.address, server.port != 8787) == ("127.0.0.1", True)
        finally:
            executor.close()
    assert not [w for w in recwarn if "8787" in str(w.message)]
