"""SIGKILL of the coordinator while its workers convert: nothing half-written is left
under a final name, the workers end with it, and the next run heals the folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from multigate.exit_codes import ExitCode
from multigate.storage.layout import sidecar_path
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import REPO_ROOT, engine_outputs, snapshot
from tests.engine.helpers import CONFIG, OUT, leftovers, published, write_many_symbols


def _wait_for_worker_temps(data: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if any(".work.tmp-" in path.name for path in leftovers(data)):
            return
        time.sleep(0.002)
    raise AssertionError("the run finished (or never converted) before it could be killed")


def _complete_and_described(path: Path) -> bool:
    record = read_sidecar(path)
    return record is not None and record["file"]["sha256"] == sha256_of(path)


def test_a_killed_parallel_run_heals_on_rerun(tmp_path, write_config, run_cli):
    write_many_symbols(tmp_path / "in", symbols=16, days=8_000)
    config = write_config(CONFIG.format(data="data"))
    data = tmp_path / "data"
    command = [sys.executable, "-m", "scripts.ingest", "--config", str(config), "--workers", "2"]
    coordinator = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    workers: list[psutil.Process] = []
    try:
        _wait_for_worker_temps(data, coordinator)
        workers = psutil.Process(coordinator.pid).children(recursive=True)
        os.kill(coordinator.pid, signal.SIGKILL)
        coordinator.wait()
        assert workers, "the run had no worker processes"
        _gone, alive = psutil.wait_procs(workers, timeout=15)
        assert alive == [], "\n".join(f"{p.pid} {p.ppid()} {p.cmdline()[-1][:60]}" for p in alive)
    finally:
        for process in workers:
            if process.is_running():
                process.kill()

    assert leftovers(data), "the kill came after the run, not while workers converted"
    outputs = list(engine_outputs(data / OUT))
    assert all(_complete_and_described(path) for path in outputs)  # all or nothing

    healed = run_cli("--config", config, "--workers", "2")
    assert healed.code == ExitCode.OK, healed.err
    assert leftovers(data) == []
    assert all(sidecar_path(path).exists() for path in engine_outputs(data / OUT))
    reference = write_config(CONFIG.format(data="serial"))
    assert run_cli("--config", reference, "--workers", "1").code == ExitCode.OK
    assert published(data) == published(tmp_path / "serial")
    assert len(published(data)) == 16

    before = snapshot(data)
    assert run_cli("--config", config, "--workers", "2").code == ExitCode.OK
    assert snapshot(data) == before
