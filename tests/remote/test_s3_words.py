"""An object-store data folder's faults are worded one way by every command: a missing
bucket, and a dry run while another machine's run holds the bucket's lock."""

from __future__ import annotations

import json
import uuid

from multigate.console import main as console_main
from multigate.exit_codes import ExitCode
from tests.engine.helpers import write_many_symbols
from tests.remote.test_s3_data_dir import LOCK, s3_config


def test_a_missing_bucket_is_worded_alike_by_ls_and_ingest(
    tmp_path, write_config, run_cli, aws_env, capsys
):
    write_many_symbols(tmp_path / "in", symbols=1, days=5)
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    config = write_config(s3_config(missing))
    errors = {}
    for name, args in {
        "ingest": ("--config", config),
        "dry run": ("--config", config, "--dry-run"),
    }.items():
        result = run_cli(*args)
        assert result.code == ExitCode.CONFIG_ERROR, (name, result.err)
        errors[name] = result.err.strip().splitlines()[-1]
    for name, args in {
        "ls --config": ["ls", "--config", str(config)],
        "ls --data-dir": ["ls", "--data-dir", f"s3://{missing}/lake"],
    }.items():
        assert console_main(args) == ExitCode.CONFIG_ERROR, name
        errors[name] = capsys.readouterr().err.strip().splitlines()[-1]
    expected = (
        f"error: s3://{missing}/lake: there is no bucket '{missing}' (check its name, and the "
        "endpoint and region: AWS_ENDPOINT_URL, storage_options)"
    )
    assert errors == dict.fromkeys(errors, expected)


def test_a_dry_run_while_another_machine_holds_the_lock_says_so(
    tmp_path, write_config, run_cli, aws_env
):
    write_many_symbols(tmp_path / "in", symbols=1, days=5)
    bucket = aws_env.new_bucket()
    config = write_config(s3_config(bucket))
    assert run_cli("--config", config).code == ExitCode.OK
    holder = {"host": "other-machine", "pid": 4242, "purpose": "ingest", "since": "2024-01-02"}
    aws_env.client().put_object(Bucket=bucket, Key=f"lake/{LOCK}", Body=json.dumps(holder))
    planned = run_cli("--config", config, "--dry-run")
    assert planned.code == ExitCode.OK, planned.err
    assert (
        f"note: s3://{bucket}/lake is locked by run 4242 on other-machine (ingest, since "
        "2024-01-02)" in planned.out
    )
    assert run_cli("--config", config).code == ExitCode.LOCKED
