"""A run on an ``s3://`` data folder stopped (SIGTERM) once a paid download is fully
received: the bytes stay in its working copy, unuploaded, for its next run to verify and
keep. Until then its lock stays in the bucket, so another machine does not buy the chunk
again. Real subprocesses of the CLI, the real Databento client against the local fake."""

from __future__ import annotations

import signal

import pytest

from multigate.exit_codes import ExitCode
from multigate.storage.ledger import read_ledger
from tests.databento_jobs.test_databento_stop import (
    CHUNK,
    NAME,
    big_body,
    freeze_once_fully_received,
    job_yaml,
    server,  # noqa: F401 (the fixture)
    start_run,
)
from tests.remote.test_s3_data_dir import LOCK

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")
RAW = CHUNK.removeprefix("data/")


def test_a_stopped_paid_download_keeps_other_machines_from_buying_it(
    tmp_path,
    write_config,
    run_cli,
    aws_env,
    server,  # noqa: F811
):
    bucket = aws_env.new_bucket()

    def config(cache: str):
        text = job_yaml(server)
        return write_config(
            text.replace("data_dir: data", f"data_dir: s3://{bucket}/lake\ncache_dir: {cache}")
        )

    server.script("get_range", body=big_body())
    process = start_run(config("a"))
    freeze_once_fully_received(process, tmp_path / "a" / RAW, len(big_body()))
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGCONT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == ExitCode.TERMINATED, out + err[-3000:]
    assert server.calls["get_range"] == 1

    other = run_cli("--config", config("b"))
    assert other.code == ExitCode.LOCKED, other.err
    assert "paid download" in other.err and str(tmp_path / "a") in other.err
    assert server.calls["get_range"] == 1

    again = run_cli("--config", config("a"))
    assert again.code == ExitCode.OK, again.err
    assert server.calls["get_range"] == 1
    objects = aws_env.objects(bucket, "lake")
    assert objects[f"{RAW}/{NAME}"] == big_body() and LOCK not in objects
    ledger = read_ledger(tmp_path / "a" / "raw/databento/ledger.jsonl")
    assert [entry["event"] for entry in ledger].count("recovered") == 1
