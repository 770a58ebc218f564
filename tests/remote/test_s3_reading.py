"""Reading an object-store data folder: the catalog (API and ``multigate`` commands) reads
it through its own working copy; a dry run and a reader write nothing to the bucket; a
prune of snapshots reaches the bucket; Dask workers convert into it."""

from __future__ import annotations

import pytest

from multigate.catalog import Catalog
from multigate.console import main as console_main
from multigate.exit_codes import ExitCode
from multigate.storage.remote.location import RemoteDataDirError
from tests.engine.helpers import CONFIG, write_many_symbols
from tests.fakes.s3_server import S3Server
from tests.remote.test_s3_data_dir import LOCK, assert_same_outputs, local_files, s3_config


@pytest.fixture
def lake(tmp_path, write_config, run_cli, aws_env):
    """A bucket one run ingested a VIX job into; and the same job run locally."""
    write_many_symbols(tmp_path / "in", symbols=3, days=400)
    local = run_cli("--config", write_config(CONFIG.format(data="local")))
    assert local.code == ExitCode.OK, local.err
    bucket = aws_env.new_bucket()
    remote = run_cli("--config", write_config(s3_config(bucket, "writer-copy")))
    assert remote.code == ExitCode.OK, remote.err
    return bucket


def test_the_catalog_reads_a_bucket_through_a_fresh_copy(
    tmp_path, write_config, aws_env, lake, monkeypatch, capsys
):
    reference = Catalog.open(tmp_path / "local")
    start = len(aws_env.requests)
    by_config = Catalog.from_config(write_config(s3_config(lake, "reader-copy")))
    assert by_config.remote is not None and by_config.data_dir == tmp_path / "reader-copy"
    assert [info.name for info in by_config.datasets()] == ["vix/many"]
    assert by_config.read("vix/many").equals(reference.read("vix/many"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    by_url = Catalog.open(f"s3://{lake}/lake")
    assert by_url.data_dir.is_relative_to(tmp_path / "xdg")
    assert by_url.read("vix/many", symbols="VIX").equals(reference.read("vix/many", symbols="VIX"))
    capsys.readouterr()
    assert console_main(["ls", "--data-dir", f"s3://{lake}/lake"]) == ExitCode.OK
    assert "vix/many" in capsys.readouterr().out
    assert S3Server(aws_env.endpoint, aws_env.requests[start:]).writes(lake) == []


def test_a_dry_run_writes_nothing_to_the_bucket(tmp_path, write_config, run_cli, aws_env):
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    start = len(aws_env.requests)
    run = run_cli("--config", write_config(s3_config(bucket)), "--dry-run")
    assert run.code == ExitCode.OK, run.err
    assert "VIX.parquet" in run.out
    made = S3Server(aws_env.endpoint, aws_env.requests[start:])
    assert made.writes(bucket) == [] and made.requests  # it did look
    assert aws_env.objects(bucket) == {}


def test_pruning_snapshots_reaches_the_bucket(tmp_path, write_config, run_cli, aws_env, lake):
    config = write_config(s3_config(lake, "writer-copy"))
    write_many_symbols(tmp_path / "in", symbols=3, days=420)  # new data: a new snapshot
    again = run_cli("--config", config)
    assert again.code == ExitCode.OK, again.err
    versioned = [name for name in aws_env.objects(lake, "lake") if ".v-" in name]
    assert len(versioned) >= 2  # both runs' files: the first version is still readable
    code = console_main(["snapshots", "prune", "--keep", "1", "--config", str(config)])
    assert code == ExitCode.OK
    objects = aws_env.objects(lake, "lake")
    left = [name for name in objects if ".v-" in name]
    assert 1 <= len(left) < len(versioned) and LOCK not in objects


def test_dask_workers_convert_into_the_bucket_the_bytes_of_a_serial_run(
    tmp_path, write_config, run_cli, aws_env, dask_scheduler
):
    write_many_symbols(tmp_path / "in", symbols=4, days=600)
    local = run_cli("--config", write_config(CONFIG.format(data="local")), "--workers", "1")
    assert local.code == ExitCode.OK, local.err
    bucket = aws_env.new_bucket()
    config = write_config(s3_config(bucket))
    args = ("--config", config, "--executor", "dask", "--scheduler", dask_scheduler)
    first = run_cli(*args)
    assert first.code == ExitCode.OK, first.err
    assert_same_outputs(aws_env.objects(bucket, "lake"), local_files(tmp_path / "local"))
    start = len(aws_env.requests)
    second = run_cli(*args)
    assert second.code == ExitCode.OK, second.err
    assert S3Server(aws_env.endpoint, aws_env.requests[start:]).writes(bucket, ignore=(LOCK,)) == []


def test_a_missing_bucket_is_an_error_and_the_copy_keeps_its_files(
    tmp_path, write_config, aws_env, lake, capsys
):
    """The bucket is gone (deleted, or a wrong endpoint names a store without it): the
    catalog says so instead of showing an empty folder, and the working copy it reads,
    maybe the last copy of paid data, keeps every file."""
    copy = tmp_path / "writer-copy"
    before = local_files(copy)
    s3 = aws_env.client()
    for key in aws_env.objects(lake):
        s3.delete_object(Bucket=lake, Key=key)
    s3.delete_bucket(Bucket=lake)
    with pytest.raises(RemoteDataDirError, match=f"no bucket '{lake}'"):
        Catalog.from_config(write_config(s3_config(lake, "writer-copy")))
    capsys.readouterr()
    code = console_main(["ls", "--data-dir", f"s3://{lake}/lake"])
    assert code == ExitCode.CONFIG_ERROR
    assert f"s3://{lake}/lake" in capsys.readouterr().err
    assert local_files(copy) == before


def test_a_readers_catalog_index_never_reaches_the_bucket(
    tmp_path, write_config, run_cli, aws_env, lake
):
    """A reader writes nothing: the next run (which changes nothing) still uploads
    nothing."""
    config = write_config(s3_config(lake, "writer-copy"))
    assert [info.name for info in Catalog.from_config(config).datasets()] == ["vix/many"]
    start = len(aws_env.requests)
    again = run_cli("--config", config)
    assert again.code == ExitCode.OK, again.err
    assert S3Server(aws_env.endpoint, aws_env.requests[start:]).writes(lake, ignore=(LOCK,)) == []
    assert not [name for name in aws_env.objects(lake, "lake") if name.startswith("catalog/")]
