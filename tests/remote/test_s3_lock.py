"""The lock object of an ``s3://`` data folder: when a lock left by a dead run of this
machine may be taken over, and when not."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pytest

from multigate.exit_codes import ExitCode
from multigate.storage.remote.object_lock import pid_space
from tests.engine.helpers import write_many_symbols
from tests.remote.test_s3_data_dir import LOCK, s3_config


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_dead_runs_lock_is_not_taken_over_from_another_working_copy(
    tmp_path, write_config, run_cli, aws_env
):
    """That run's files the bucket lacks (paid downloads too) are in its own working copy:
    a run with another copy would buy them again, so it stops and says where they are."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    first = run_cli("--config", write_config(s3_config(bucket, "first-copy")))
    assert first.code == ExitCode.OK, first.err
    stored = aws_env.objects(bucket, "lake")
    holder = {
        "host": socket.gethostname(),
        "pid": dead_pid(),
        "since": "2026-11-26T08:00:00+00:00",
        "working_copy": str(tmp_path / "first-copy"),
        "token": "0123456789abcdef",
    }
    aws_env.client().put_object(Bucket=bucket, Key=f"lake/{LOCK}", Body=json.dumps(holder))

    run = run_cli("--config", write_config(s3_config(bucket, "second-copy")))

    assert run.code == ExitCode.LOCKED
    assert f"cache_dir: {tmp_path / 'first-copy'}" in run.err
    assert json.loads(aws_env.objects(bucket, "lake")[LOCK]) == holder
    assert aws_env.objects(bucket, "lake") == {**stored, LOCK: json.dumps(holder).encode()}
    same = run_cli("--config", write_config(s3_config(bucket, "first-copy")))
    assert same.code == ExitCode.OK, same.err  # the dead run's own copy takes it over
    assert LOCK not in aws_env.objects(bucket, "lake")


@pytest.mark.skipif(pid_space() is None, reason="no boot id or PID namespace here")
def test_a_lock_from_a_container_sharing_this_host_name_is_not_taken_over(
    tmp_path, write_config, run_cli, aws_env
):
    """Containers on two machines (``hostname: ingest`` in a compose file) share a host
    name; a PID of the other's means nothing here (the holder may be alive, as PID 1 of
    its container): the lock records where its PID lives and is only taken over there."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    holder = {
        "host": socket.gethostname(),
        "pid": dead_pid(),
        "since": "2026-11-26T08:00:00+00:00",
        "working_copy": str(tmp_path / "cache"),
        "pid_space": "6b1f3c52-0d5e-4c0e-9d0a-2f3b8f1e7a90 pid:[4026532777]",
        "token": "0123456789abcdef",
    }
    aws_env.client().put_object(Bucket=bucket, Key=f"lake/{LOCK}", Body=json.dumps(holder))

    run = run_cli("--config", write_config(s3_config(bucket, "cache")))

    assert run.code == ExitCode.LOCKED
    assert "another boot or container" in run.err
    assert set(aws_env.objects(bucket, "lake")) == {LOCK}
    assert json.loads(aws_env.objects(bucket, "lake")[LOCK]) == holder


def test_a_dead_runs_lock_is_not_taken_over_once_its_working_copy_is_gone(
    tmp_path, write_config, run_cli, aws_env
):
    """A run killed (SIGKILL) before its upload, then its working copy deleted: what it
    bought is lost with it. The next run does not quietly buy it again (nor count the
    lost spend out of budget_usd): it says so, and the user decides by deleting the lock."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    first = run_cli("--config", write_config(s3_config(bucket, "copy")))
    assert first.code == ExitCode.OK, first.err
    holder = {
        "host": socket.gethostname(),
        "pid": dead_pid(),
        "since": "2026-11-26T08:00:00+00:00",
        "working_copy": str(tmp_path / "copy"),
        "token": "0123456789abcdef",
    }
    aws_env.client().put_object(Bucket=bucket, Key=f"lake/{LOCK}", Body=json.dumps(holder))
    shutil.rmtree(tmp_path / "copy")

    run = run_cli("--config", write_config(s3_config(bucket, "copy")))

    assert run.code == ExitCode.LOCKED
    assert "is gone" in run.err and "paid downloads" in run.err
    assert json.loads(aws_env.objects(bucket, "lake")[LOCK]) == holder
    aws_env.client().delete_object(Bucket=bucket, Key=f"lake/{LOCK}")
    again = run_cli("--config", write_config(s3_config(bucket, "copy")))
    assert again.code == ExitCode.OK, again.err


def test_a_store_without_conditional_writes_still_keeps_two_runs_apart(
    tmp_path, write_config, run_cli, aws_env
):
    """An S3-compatible store that ignores If-None-Match (older MinIO, Ceph) would let a
    second run overwrite the lock of a live one: the lock's existence is checked first."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    holder = {"host": "build-box-7", "pid": 4242, "since": "2026-11-26T08:00:00+00:00"}
    aws_env.client().put_object(Bucket=bucket, Key=f"lake/{LOCK}", Body=json.dumps(holder))
    aws_env.ignore_conditions()

    run = run_cli("--config", write_config(s3_config(bucket, "copy")))

    assert run.code == ExitCode.LOCKED
    assert "build-box-7" in run.err
    assert json.loads(aws_env.objects(bucket, "lake")[LOCK]) == holder


def test_a_lock_that_cannot_be_deleted_is_said_and_the_run_stands(
    tmp_path, write_config, run_cli, aws_env
):
    """The bucket refuses to delete the lock (a policy without s3:DeleteObject): the run,
    done and uploaded, ends as it went, saying the lock stays; the next run here takes it
    over."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    config = write_config(s3_config(bucket, "copy"))
    aws_env.refuse("DELETE", LOCK)

    run = run_cli("--config", config)

    assert run.code == ExitCode.OK, run.err
    assert f"could not delete the lock object s3://{bucket}/lake/{LOCK}" in run.err
    assert LOCK in aws_env.objects(bucket, "lake")
    aws_env.allow_all()
    again = run_cli("--config", config)
    assert again.code == ExitCode.OK, again.err
    assert LOCK not in aws_env.objects(bucket, "lake")
