"""Paid data in an ``s3://`` data folder: what one machine bought (raw files and the
ledger) is in the bucket, so another machine neither buys it again nor spends past a
job's lifetime budget. The real databento.Historical client against the local fake vendor,
the real s3fs client against moto's S3 server."""

from __future__ import annotations

import json

import pytest

from multigate.exit_codes import ExitCode
from tests.conftest import paid_databento_yaml
from tests.fakes.databento_server import FakeDatabentoServer

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")


@pytest.fixture
def vendor(databento_server) -> FakeDatabentoServer:
    """6 chunks (2 symbols x 3 days) quoted at $0.05 each."""
    return databento_server(symbols=("AAPL", "MSFT"), records_per_day=50, usd_per_record=0.001)


def paid_job(write_config, vendor, bucket: str, cache: str, end: str, **rails: object):
    """The paid job (AAPL and MSFT from 2024-01-02 to ``end``) in ``s3://bucket/lake``,
    with ``cache`` as this machine's working copy."""
    data_dir = f"s3://{bucket}/lake\ncache_dir: {cache}"
    return write_config(
        paid_databento_yaml(vendor.gateway, data_dir=data_dir, end=end, rails=rails)
    )


def test_another_machine_never_buys_what_the_bucket_holds(
    tmp_path, write_config, run_cli, aws_env, vendor
):
    bucket = aws_env.new_bucket()
    rails = {"max_cost_usd": 1.0, "budget_usd": 0.35, "require_confirm": False}
    first = run_cli("--config", paid_job(write_config, vendor, bucket, "a", "2024-01-04", **rails))
    assert first.code == ExitCode.OK, first.err
    assert vendor.calls["get_range"] == 6
    objects = aws_env.objects(bucket, "lake")
    assert len([name for name in objects if name.endswith(".dbn.zst")]) == 6
    spent = [json.loads(line) for line in objects["raw/databento/ledger.jsonl"].splitlines()]
    assert sum(entry["usd"] for entry in spent if entry["event"] == "attempt") == pytest.approx(0.3)

    again = run_cli("--config", paid_job(write_config, vendor, bucket, "b", "2024-01-04", **rails))
    assert again.code == ExitCode.OK, again.err
    assert vendor.calls["get_range"] == 6  # the second machine bought nothing

    # One more day would cost $0.10: past the job's $0.35 lifetime budget, counted from the
    # ledger the first machine wrote (a third machine, with an empty working copy).
    more = run_cli("--config", paid_job(write_config, vendor, bucket, "c", "2024-01-05", **rails))
    assert more.code == ExitCode.GUARDRAIL_REFUSED, more.err
    assert "budget" in (more.out + more.err)
    assert vendor.calls["get_range"] == 6


def test_a_failed_upload_keeps_other_machines_from_buying_the_chunks_again(
    tmp_path, write_config, run_cli, aws_env, vendor
):
    """The bucket refuses the raw files (a policy, a full quota, a network cut): the run
    fails, and its lock stays in the bucket, so another machine, which cannot see the paid
    chunks, does not buy them again; the next run with the same working copy uploads them."""
    bucket = aws_env.new_bucket()
    rails = {"max_cost_usd": 1.0, "require_confirm": False}
    aws_env.refuse("PUT", ".dbn.zst")
    first = run_cli("--config", paid_job(write_config, vendor, bucket, "a", "2024-01-04", **rails))
    assert first.code == ExitCode.JOB_FAILED
    assert "cannot upload" in first.err and "Traceback" not in first.err
    assert vendor.calls["get_range"] == 6

    other = run_cli("--config", paid_job(write_config, vendor, bucket, "b", "2024-01-04", **rails))
    assert other.code == ExitCode.LOCKED, other.err
    assert str(tmp_path / "a") in other.err  # where the files wait
    assert vendor.calls["get_range"] == 6  # nothing bought again

    aws_env.allow_all()
    again = run_cli("--config", paid_job(write_config, vendor, bucket, "a", "2024-01-04", **rails))
    assert again.code == ExitCode.OK, again.err
    objects = aws_env.objects(bucket, "lake")
    assert len([name for name in objects if name.endswith(".dbn.zst")]) == 6
    assert ".multigate.lock" not in objects
    other = run_cli("--config", paid_job(write_config, vendor, bucket, "b", "2024-01-04", **rails))
    assert other.code == ExitCode.OK, other.err
    assert vendor.calls["get_range"] == 6


def test_ledger_lines_never_uploaded_survive_another_machines_run(
    tmp_path, write_config, run_cli, aws_env, vendor
):
    """A run here could not upload its ledger; its lock was then deleted by hand and
    another machine bought the same chunks. The next run here merges its ledger lines
    into the bucket's instead of replacing them: the bucket's ledger shows all the money
    spent (what budget_usd is checked against)."""
    bucket = aws_env.new_bucket()
    rails = {"max_cost_usd": 1.0, "require_confirm": False}
    aws_env.refuse("PUT", "ledger.jsonl")
    first = run_cli("--config", paid_job(write_config, vendor, bucket, "a", "2024-01-04", **rails))
    assert first.code == ExitCode.JOB_FAILED
    mine = (tmp_path / "a" / "raw/databento/ledger.jsonl").read_text().splitlines()
    aws_env.allow_all()
    aws_env.client().delete_object(Bucket=bucket, Key="lake/.multigate.lock")
    other = run_cli("--config", paid_job(write_config, vendor, bucket, "b", "2024-01-04", **rails))
    assert other.code == ExitCode.OK, other.err
    assert vendor.calls["get_range"] == 12  # bought twice: the bucket never had the chunks

    again = run_cli("--config", paid_job(write_config, vendor, bucket, "a", "2024-01-04", **rails))

    assert again.code == ExitCode.OK, again.err
    assert vendor.calls["get_range"] == 12
    lines = aws_env.objects(bucket, "lake")["raw/databento/ledger.jsonl"].decode().splitlines()
    assert set(mine) <= set(lines)
    spent = [json.loads(line) for line in lines]
    assert sum(entry["usd"] for entry in spent if entry["event"] == "attempt") == pytest.approx(0.6)
    assert (tmp_path / "a" / "raw/databento/ledger.jsonl").read_text().splitlines() == lines


def test_paid_files_the_bucket_lost_are_uploaded_again_not_bought_again(
    tmp_path, write_config, run_cli, aws_env, vendor
):
    """A paid chunk, its sidecar and the ledger vanish from the bucket (a lifecycle rule, a
    mistaken sync): the working copy that holds them puts them back instead of deleting
    its own copies and buying the chunk again."""
    bucket = aws_env.new_bucket()
    rails = {"max_cost_usd": 1.0, "require_confirm": False}
    config = paid_job(write_config, vendor, bucket, "a", "2024-01-04", **rails)
    first = run_cli("--config", config)
    assert first.code == ExitCode.OK, first.err
    stored = aws_env.objects(bucket, "lake")
    chunk = sorted(name for name in stored if name.endswith(".dbn.zst"))[0]
    lost = [chunk, f"{chunk}.source.json", "raw/databento/ledger.jsonl"]
    for name in lost:
        aws_env.client().delete_object(Bucket=bucket, Key=f"lake/{name}")

    again = run_cli("--config", config)

    assert again.code == ExitCode.OK, again.err
    assert vendor.calls["get_range"] == 6
    objects = aws_env.objects(bucket, "lake")
    for name in lost:
        assert objects[name] == stored[name], name
    assert "lost 3 paid file(s)" in again.err + again.out
