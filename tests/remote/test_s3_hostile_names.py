"""Objects of an ``s3://`` data folder whose names lead outside it (``prefix/../x``,
``prefix//abs/path``): anyone who can write to the bucket could otherwise make every
machine that reads it write files anywhere its user can (``~/.bashrc``). They are ignored,
said in a warning, and nothing is written outside the working copy."""

from __future__ import annotations

from multigate.exit_codes import ExitCode
from tests.engine.helpers import OUT, write_many_symbols
from tests.remote.test_s3_data_dir import s3_config


def test_objects_named_outside_the_folder_are_never_written(
    tmp_path, write_config, run_cli, aws_env
):
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    s3 = aws_env.client()
    escapes = {  # key -> where it would land (the working copy is tmp_path/x/copy)
        "lake/raw/../../../escaped.txt": tmp_path / "escaped.txt",
        f"lake/{tmp_path}/absolute.txt": tmp_path / "absolute.txt",  # lake//tmp/...
    }
    for key in escapes:
        s3.put_object(Bucket=bucket, Key=key, Body=b"written by someone with bucket access")
    listed = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed) == sorted(escapes)  # the store keeps such names as they are

    run = run_cli("--config", write_config(s3_config(bucket, "x/copy")))

    assert run.code == ExitCode.OK, run.err
    for written in escapes.values():
        assert not written.exists()
    assert "lead outside" in run.out + run.err
    assert (tmp_path / "x" / "copy" / OUT / "VIX.parquet").is_file()
