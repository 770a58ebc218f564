"""Dask workers on "another machine" (a scheduler whose address is not this machine's
loopback name: 127.0.0.2) with an ``s3://`` data folder: tasks exchange files through the
bucket's staging area, and the outputs are the bytes of a local serial run."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator

import pytest

from multigate.engine.bucket_staging import BucketStager
from multigate.engine.choose import scheduler_is_local
from multigate.engine.tasks import ConvertTask
from multigate.exit_codes import ExitCode
from multigate.sources.databento.dbn_synthetic import write_synthetic_file
from multigate.storage.remote.location import parse_remote
from tests.engine.helpers import CONFIG, write_many_symbols
from tests.fakes.s3_server import S3Server
from tests.remote.test_s3_data_dir import LOCK, assert_same_outputs, local_files, s3_config

STAGING = ".multigate-staging/"

DBN_CONFIG = """\
data_dir: {data}
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: files
        mode: offline
        raw_dir: dbn
"""


@pytest.fixture
def far_scheduler(aws_env) -> Iterator[str]:
    """A LocalCluster listening on 127.0.0.2 (its workers get the AWS variables, as
    workers on another machine would have their own)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.2",
        dashboard_address=None,
    ) as cluster:
        assert not scheduler_is_local(cluster.scheduler_address)
        yield cluster.scheduler_address


def staged(server: S3Server, bucket: str, start: int) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in server.requests[start:]
        if path.startswith(f"/{bucket}/lake/{STAGING}")
    ]


def test_remote_workers_convert_through_the_bucket(
    tmp_path, write_config, run_cli, aws_env, far_scheduler
):
    write_many_symbols(tmp_path / "in", symbols=4, days=600)
    local = run_cli("--config", write_config(CONFIG.format(data="local")), "--workers", "1")
    assert local.code == ExitCode.OK, local.err
    bucket = aws_env.new_bucket()
    args = ("--config", write_config(s3_config(bucket)), "--scheduler", far_scheduler)
    start = len(aws_env.requests)
    first = run_cli(*args)
    assert first.code == ExitCode.OK, first.err
    objects = aws_env.objects(bucket, "lake")
    assert_same_outputs(objects, local_files(tmp_path / "local"))
    exchanged = staged(aws_env, bucket, start)
    assert [m for m, path in exchanged if m == "PUT" and "/in/" in path]  # inputs went up
    assert [m for m, path in exchanged if m == "PUT" and "/out/" in path]  # outputs came back
    assert not [name for name in objects if name.startswith(STAGING)]  # and were cleared
    start = len(aws_env.requests)
    second = run_cli(*args)
    assert second.code == ExitCode.OK, second.err
    assert S3Server(aws_env.endpoint, aws_env.requests[start:]).writes(bucket, ignore=(LOCK,)) == []


def test_remote_workers_split_dbn_files_into_the_bytes_of_a_serial_run(
    tmp_path, write_config, run_cli, aws_env, far_scheduler
):
    (tmp_path / "dbn").mkdir()
    for index, schema in enumerate(("trades", "mbp-1", "ohlcv-1m")):
        write_synthetic_file(tmp_path / "dbn" / f"{schema}.dbn.zst", schema, 3_000, seed=index)
    local = run_cli("--config", write_config(DBN_CONFIG.format(data="local")), "--workers", "1")
    assert local.code == ExitCode.OK, local.err
    bucket = aws_env.new_bucket()
    config = DBN_CONFIG.format(data=f"s3://{bucket}/lake\ncache_dir: cache")
    run = run_cli("--config", write_config(config), "--scheduler", far_scheduler)
    assert run.code == ExitCode.OK, run.err
    objects = aws_env.objects(bucket, "lake")
    reference = local_files(tmp_path / "local")
    outputs = [name for name in reference if name.endswith(".parquet") and ".v-" not in name]
    assert len(outputs) == 3
    for name in outputs:
        assert objects[name] == reference[name], name


def test_a_bad_input_on_a_remote_worker_is_named_by_its_own_path(
    tmp_path, write_config, run_cli, aws_env, far_scheduler
):
    (tmp_path / "dbn").mkdir()
    write_synthetic_file(tmp_path / "dbn" / "good.dbn.zst", "trades", 1_000, seed=1)
    (tmp_path / "dbn" / "broken.dbn.zst").write_bytes(b"not a DBN file at all")
    bucket = aws_env.new_bucket()
    config = DBN_CONFIG.format(data=f"s3://{bucket}/lake\ncache_dir: cache")
    run = run_cli("--config", write_config(config), "--scheduler", far_scheduler)
    assert run.code == ExitCode.JOB_FAILED
    assert str(tmp_path / "dbn" / "broken.dbn.zst") in run.out + run.err
    assert "multigate-task-" not in run.out + run.err
    objects = aws_env.objects(bucket, "lake")
    assert any(name.endswith("good.parquet") for name in objects)


def test_what_a_killed_run_left_for_remote_workers_is_removed_by_the_next(
    tmp_path, write_config, run_cli, aws_env
):
    write_many_symbols(tmp_path / "in", symbols=1, days=100)
    bucket = aws_env.new_bucket()
    client = aws_env.client()
    left = [f"lake/{STAGING}20261126T000000-dead/in/abc/VIX_History.csv", f"lake/{STAGING}x/o"]
    for key in left:
        client.put_object(Bucket=bucket, Key=key, Body=b"left by a killed run")
    run = run_cli("--config", write_config(s3_config(bucket)))
    assert run.code == ExitCode.OK, run.err
    objects = aws_env.objects(bucket, "lake")
    assert not [name for name in objects if name.startswith(STAGING)]
    assert not (tmp_path / "cache" / STAGING).exists()  # never part of the working copy


def test_tasks_carry_no_credentials_of_storage_options_to_the_workers(tmp_path, aws_env):
    """A task travels to the scheduler and the workers (other machines, other people's):
    it names the bucket's endpoint, never a credential, even one set in storage_options."""
    bucket = aws_env.new_bucket()
    remote = parse_remote(
        f"s3://{bucket}/lake",
        cache_dir=tmp_path / "cache",
        storage_options={
            "key": "testing",
            "secret": "secret-from-the-yaml",
            "client_kwargs": {"aws_session_token": "token-from-the-yaml"},
            "s3_additional_kwargs": {"ServerSideEncryption": "AES256"},
        },
    )
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n")
    task = ConvertTask(
        inputs=(source,),
        output=tmp_path / "cache/ingested/x/t/X.parquet",
        converter="test",
        converter_version="1",
        convert=None,
        params={},
        source="x",
        job="t",
        mode="offline",
        query={},
    )
    stager = BucketStager(remote, {**os.environ})
    try:
        plan = stager.plan(task)
    finally:
        stager.close()
    shipped = pickle.dumps(plan)
    for secret in (b"secret-from-the-yaml", b"token-from-the-yaml", b"testing-secret"):
        assert secret not in shipped
    assert plan.options["endpoint_url"] == aws_env.endpoint
    assert plan.options["s3_additional_kwargs"] == {"ServerSideEncryption": "AES256"}
