"""Faults around the run itself: a bad .env, Ctrl-C while starting up, a dry run whose quote
failed. Each ends in a clear line and a documented exit status, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from multigate.exit_codes import ExitCode
from tests.fakes.databento_server import FakeDatabentoServer

REPO_ROOT = Path(__file__).resolve().parents[2]
VIX = """\
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        path: in/*.csv
"""


def test_env_file_that_is_not_utf8_is_a_config_error(tmp_path, write_config, run_cli):
    config = write_config(VIX)
    (tmp_path / ".env").write_bytes(b"A=1\nDATABENTO_API_KEY=secret\xffvalue\n")
    result = run_cli("--config", config, "--dry-run")
    assert result.code == ExitCode.CONFIG_ERROR
    assert f"{tmp_path / '.env'}:2: not UTF-8 text (byte 0xff)" in result.err
    assert "Traceback" not in result.err and "secret" not in result.err


# ``python -m scripts.ingest`` that receives a real SIGINT (Ctrl-C) at the first audit event
# matching STOP_EVENT/STOP_ARG: while importing a module, or opening the config.
INTERRUPTED_AT = """\
import os, runpy, signal, sys
event_name, needle = os.environ["STOP_EVENT"], os.environ["STOP_ARG"]
fired = []
def hook(event, args):
    if not fired and event == event_name and needle in str(args[0]):
        fired.append(True)
        os.kill(os.getpid(), signal.SIGINT)
sys.addaudithook(hook)
sys.argv = ["scripts/ingest.py", *sys.argv[1:]]
runpy.run_module("scripts.ingest", run_name="__main__")
"""


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        ("import", "pydantic"),  # importing the CLI's dependencies
        ("open", "ingest.yaml"),  # loading the config
        ("import", "databento"),  # opening sources (the vendor SDK)
    ],
)
def test_ctrl_c_during_start_up_exits_130_without_a_traceback(
    tmp_path, write_config, event, needle
):
    config = write_config(
        VIX.replace("mode: offline\n    jobs:", "mode: offline\n    jobs:", 1)
        + """\
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: dbn
        mode: offline
        raw_dir: dbn
"""
    )
    (tmp_path / "in").mkdir()
    (tmp_path / "dbn").mkdir()
    env = {**os.environ, "STOP_EVENT": event, "STOP_ARG": needle}
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_AT, "--config", str(config)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == ExitCode.INTERRUPTED, result.stderr
    assert "Traceback" not in result.stderr
    assert "interrupted" in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.fixture
def server(databento_server) -> FakeDatabentoServer:
    return databento_server(symbols=("AAPL",), records_per_day=50, usd_per_record=0.001)


def test_dry_run_whose_quote_failed_says_its_total_is_incomplete(
    tmp_path, write_config, run_cli, server
):
    config = write_config(
        f"""\
        sources:
          databento:
            enabled: true
            mode: api
            base_url: {server.gateway}
            http: {{max_attempts: 1, backoff_seconds: 0}}
            jobs:
              - name: cheap
                mode: api
                dataset: XNAS.ITCH
                schema: trades
                symbols: [AAPL]
                start: 2024-01-02
                end: 2024-01-02
              - name: broken
                mode: api
                dataset: XNAS.ITCH
                schema: trades
                symbols: [AAPL]
                start: 2024-01-03
                end: 2024-01-03
        """
    )
    server.script("get_cost", 200)  # the first job's quote is served as usual
    server.script("get_cost", 400, message="Invalid request.")
    result = run_cli("--config", config, "--dry-run")
    assert result.code == ExitCode.JOB_FAILED
    assert "databento/broken (api): failed" in result.out
    total = next(line for line in result.out.splitlines() if line.startswith("Total"))
    assert total.startswith("Total estimated cost: $0.0500 — INCOMPLETE: 1 job(s)")
    assert server.calls["get_range"] == 0
