"""Words that agree with what happened: usage lines, missing files, config hints, the run
summary's width, a dry run beside a held lock, and start-up faults without a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from multigate.cli import main as ingest_main
from multigate.console import main as console_main
from multigate.exit_codes import ExitCode
from multigate.storage.remote.location import MANIFEST_NAME, RemoteDataDirError, parse_remote
from multigate.storage.remote.sync_manifest import Manifest
from multigate.storage.run_lock import run_lock
from tests.cli.conftest import REPO_ROOT

VIX = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        path: in/*.csv
"""


@pytest.fixture
def vix_config(tmp_path, write_config) -> Path:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "VIX_History.csv").write_text(
        "DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2024,13.21,14.23,13.1,13.2\n"
    )
    return write_config(VIX)


def usage_error(capsys, main, *args: str | Path) -> str:
    """What a command line argparse refuses prints (it exits 2 by SystemExit)."""
    with pytest.raises(SystemExit) as stopped:
        main([str(arg) for arg in args])
    assert stopped.value.code == ExitCode.CONFIG_ERROR
    return capsys.readouterr().err


def test_multigate_ingest_usage_names_multigate_ingest(capsys):
    err = usage_error(capsys, console_main, "ingest", "--workers", "0")
    assert err.startswith("usage: multigate ingest ")
    assert "scripts.ingest" not in err
    assert "--workers: must be 1 or more, not 0" in err
    assert usage_error(capsys, ingest_main, "--workers", "0").startswith(
        "usage: python -m scripts.ingest "
    )


def test_a_missing_config_says_which_flag_names_the_data(tmp_path, multigate, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in (["ls"], ["check"], ["report", "--out", "r.html"], ["snapshots", "prune"]):
        result = multigate(*command)
        assert result.code == ExitCode.CONFIG_ERROR
        assert "config file not found" in result.err and "--data-dir" in result.err, command
    ingest = multigate("ingest")
    assert ingest.code == ExitCode.CONFIG_ERROR
    assert "--config" in ingest.err


def test_a_key_of_other_jobs_says_which_jobs_take_it(tmp_path, write_config, run_cli):
    (tmp_path / "dbn").mkdir()
    config = write_config(
        """\
        sources:
          databento:
            enabled: true
            mode: offline
            jobs:
              - name: files
                mode: offline
                raw_dir: dbn
                max_cost_usd: 5
                shema: x
        """
    )
    result = run_cli("--config", config, "--dry-run")
    assert result.code == ExitCode.CONFIG_ERROR
    assert "did you mean 'schema'?) " not in result.err
    assert "unknown key 'max_cost_usd' here: it is a key of 'mode: api' jobs" in result.err
    assert "unknown key 'shema' (did you mean 'schema'?)" in result.err


@pytest.mark.parametrize("address", ["tcp://[::1", "inproc://x", "udp://host:1", "tcp://:8786"])
def test_a_bad_scheduler_address_is_a_usage_error(
    vix_config, run_cli, write_config, address, capsys
):
    flag = usage_error(capsys, ingest_main, "--config", vix_config, "--scheduler", address)
    assert f"argument --scheduler: {address!r}" in flag and "Traceback" not in flag
    in_yaml = write_config(VIX + f"engine:\n  executor: dask\n  scheduler: '{address}'\n")
    configured = run_cli("--config", in_yaml, "--dry-run")
    assert configured.code == ExitCode.CONFIG_ERROR
    assert "engine.scheduler" in configured.err and "Traceback" not in configured.err


def test_client_kwargs_that_is_not_a_mapping_is_a_config_error(write_config, run_cli, multigate):
    config = write_config(
        "data_dir: s3://bucket/lake\nstorage_options:\n  client_kwargs: [1]\nsources: {}\n"
    )
    for result in (run_cli("--config", config), multigate("ls", "--config", config)):
        assert result.code == ExitCode.CONFIG_ERROR
        assert "storage_options.client_kwargs must be a mapping" in result.err
        assert "AttributeError" not in result.err


@pytest.mark.parametrize(("columns", "widest"), [("80", 80), ("100", 100), (None, 120)])
def test_the_run_summary_fits_the_width_it_is_given(
    vix_config, run_cli, monkeypatch, columns, widest
):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    result = run_cli("--config", vix_config)
    assert result.code == ExitCode.OK, result.err
    lines = result.out.splitlines()
    assert max(len(line) for line in lines) <= widest
    assert any("vix" in line and "local" in line and "offline" in line for line in lines)


def test_a_dry_run_while_a_run_holds_the_lock_says_so(vix_config, run_cli, tmp_path):
    free = run_cli("--config", vix_config, "--dry-run")
    assert free.code == ExitCode.OK, free.err
    assert "locked" not in free.out
    with run_lock(tmp_path / "data"):
        held = run_cli("--config", vix_config, "--dry-run")
    assert held.code == ExitCode.OK, held.err
    assert f"note: {tmp_path / 'data'} is locked by another run" in held.out
    assert "a real run now exits 4" in held.out


def test_a_working_copy_of_another_endpoint_is_worded_plainly(tmp_path):
    remote = parse_remote("s3://bucket/lake", cache_dir=tmp_path / "copy")
    remote.cache_dir.mkdir()
    (remote.cache_dir / MANIFEST_NAME).write_text(
        json.dumps({"url": remote.url, "store": None, "files": {}})
    )
    with pytest.raises(RemoteDataDirError) as caught:
        Manifest(remote, "http://127.0.0.1:9000")
    message = str(caught.value)
    assert "at AWS's default endpoint, not at the endpoint http://127.0.0.1:9000" in message
    assert "of AWS" not in message


def test_a_ledger_line_the_disk_could_not_hold_leaves_no_torn_line(tmp_path):
    """A file size limit (as a full disk) stops the append mid-line: the ledger is cut back
    to its last whole line, so no later run reports a torn line 'left by a killed run'."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text('{"at": "2024-01-01T00:00:00+00:00", "event": "estimate", "usd": 1}\n')
    size = ledger.stat().st_size
    script = f"""
import resource, signal, sys
from pathlib import Path
from multigate.storage.ledger import append_ledger
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({size + 20}, {size + 20}))
try:
    append_ledger(Path({str(ledger)!r}), "estimate", {{"job": "x" * 200, "usd": 2}})
except OSError as exc:
    print("refused:", exc.errno)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT
    )
    assert done.stdout.startswith("refused:"), done.stderr
    assert ledger.stat().st_size == size
    assert ledger.read_bytes().endswith(b"\n")


# ``python -m scripts.ingest`` that receives a real SIGTERM at the first audit event
# matching STOP_EVENT/STOP_ARG: while importing a module, or opening the config.
TERMINATED_AT = """\
import os, runpy, signal, sys
event_name, needle = os.environ["STOP_EVENT"], os.environ["STOP_ARG"]
fired = []
def hook(event, args):
    if not fired and event == event_name and needle in str(args[0]):
        fired.append(True)
        os.kill(os.getpid(), signal.SIGTERM)
sys.addaudithook(hook)
sys.argv = ["scripts/ingest.py", *sys.argv[1:]]
runpy.run_module("scripts.ingest", run_name="__main__")
"""


@pytest.mark.parametrize(
    ("event", "needle"),
    [("import", "pydantic"), ("open", "ingest.yaml"), ("import", "multigate.dispatcher")],
)
def test_sigterm_during_start_up_exits_143(vix_config, tmp_path, event, needle):
    env = {**os.environ, "STOP_EVENT": event, "STOP_ARG": needle}
    result = subprocess.run(
        [sys.executable, "-c", TERMINATED_AT, "--config", str(vix_config)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == ExitCode.TERMINATED == 128 + signal.SIGTERM, result.stderr
    assert "Traceback" not in result.stderr
    assert "terminated" in result.stderr
    assert not (tmp_path / "data").exists()


def test_sigterm_while_multigate_starts_exits_143(tmp_path):
    """The ``multigate`` entry point (``multigate.entry:run_console``) while it imports the
    catalog's dependencies."""
    script = TERMINATED_AT.replace(
        'sys.argv = ["scripts/ingest.py", *sys.argv[1:]]\n'
        'runpy.run_module("scripts.ingest", run_name="__main__")\n',
        "from multigate.entry import start\nsys.exit(start(sys.argv[1:], console=True))\n",
    )
    assert "console=True" in script
    env = {**os.environ, "STOP_EVENT": "import", "STOP_ARG": "pyarrow"}
    result = subprocess.run(
        [sys.executable, "-c", script, "ls", "--data-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == ExitCode.TERMINATED, result.stderr
    assert "Traceback" not in result.stderr and "terminated" in result.stderr
