"""``data_dir: s3://bucket/prefix``: runs against moto's S3 server through the real s3fs
client. The bucket ends up holding what a local run writes (same Parquet bytes), a second
run writes nothing, another machine's fresh working copy is up to date at once, and the
bucket's lock object keeps two runs apart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from multigate.exit_codes import ExitCode
from multigate.storage.layout import SIDECAR_SUFFIX
from tests.conftest import engine_outputs
from tests.engine.helpers import CONFIG, OUT, write_many_symbols
from tests.fakes.s3_server import S3Server, running_s3_server

REPO = Path(__file__).resolve().parents[2]
LOCK = ".multigate.lock"


def s3_config(bucket: str, cache: str = "cache") -> str:
    return CONFIG.format(data=f"s3://{bucket}/lake\ncache_dir: {cache}")


def start_ingest(config: Path) -> subprocess.Popen[bytes]:
    """``python -m scripts.ingest --config CONFIG --workers 1`` in a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.ingest", "--config", str(config), "--workers", "1"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(child: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    """Poll until ``ready()``; fail if the run ends first or a minute passes."""
    deadline = time.monotonic() + 60
    while not ready():
        if child.poll() is not None:
            pytest.fail(f"the run ended before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within a minute")
        time.sleep(0.005)


def local_files(folder: Path) -> dict[str, bytes]:
    """What a local run left in its data folder (its lock file aside)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != LOCK
    }


def without_created_at(data: bytes) -> dict[str, object]:
    record = json.loads(data)
    record.pop("created_at", None)
    return record


def _named_by_time(name: str) -> str:
    """A table's commits are compared by folder only: a run stopped and run again may
    commit the same files in two steps."""
    return name.rsplit("/", 1)[0] + "/*" if "/_delta_log/" in name else name


def assert_same_outputs(objects: dict[str, bytes], local: dict[str, bytes]) -> None:
    """The bucket holds every file of the local run: equal Parquet bytes, equal sidecars
    (but for when they were written)."""
    assert set(map(_named_by_time, objects)) == set(map(_named_by_time, local))
    outputs = [name for name in local if name.startswith(OUT) and name.endswith(".parquet")]
    assert outputs
    for name in outputs:
        assert objects[name] == local[name], name
        if ".v-" in name:
            continue  # a table's content-named file: the same bytes, no sidecar of its own
        sidecar = name + SIDECAR_SUFFIX
        assert without_created_at(objects[sidecar]) == without_created_at(local[sidecar])


def test_round_trip_gives_the_bytes_of_a_local_run(tmp_path, write_config, run_cli, aws_env):
    write_many_symbols(tmp_path / "in", symbols=4, days=600)
    local = run_cli("--config", write_config(CONFIG.format(data="local")), "--workers", "1")
    assert local.code == ExitCode.OK, local.err
    bucket = aws_env.new_bucket()
    remote = run_cli("--config", write_config(s3_config(bucket)), "--workers", "2")
    assert remote.code == ExitCode.OK, remote.err
    objects = aws_env.objects(bucket, "lake")
    assert_same_outputs(objects, local_files(tmp_path / "local"))
    assert LOCK not in objects  # released
    assert not [name for name in objects if ".tmp-" in name or ".paid-" in name]
    copy = local_files(tmp_path / "cache")
    assert {name: copy[name] for name in objects} == objects  # the working copy agrees


def test_second_run_and_another_machines_copy_write_nothing(
    tmp_path, write_config, run_cli, aws_env
):
    write_many_symbols(tmp_path / "in", symbols=3, days=400)
    bucket = aws_env.new_bucket()
    first = run_cli("--config", write_config(s3_config(bucket)))
    assert first.code == ExitCode.OK, first.err
    assert aws_env.writes(bucket, ignore=(LOCK,))  # the first run did write
    stored = aws_env.objects(bucket, "lake")
    for cache in ("cache", "other-machine"):  # the same copy, then a fresh one
        start = len(aws_env.requests)
        again = run_cli("--config", write_config(s3_config(bucket, cache)))
        assert again.code == ExitCode.OK, again.err
        assert "up to date" in again.out
        made = S3Server(aws_env.endpoint, aws_env.requests[start:])
        assert made.writes(bucket, ignore=(LOCK,)) == []
        assert [method for method, _ in made.writes(bucket)] == ["PUT", "DELETE"]  # the lock
    assert aws_env.objects(bucket, "lake") == stored
    fetched = local_files(tmp_path / "other-machine")
    assert {name: fetched[name] for name in stored} == stored


def test_a_lock_held_from_another_machine_stops_the_run(tmp_path, write_config, run_cli, aws_env):
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    holder = {"host": "build-box-7", "pid": 4242, "since": "2026-11-26T08:00:00+00:00"}
    aws_env.client().put_object(Bucket=bucket, Key=f"lake/{LOCK}", Body=json.dumps(holder))
    start = len(aws_env.requests)
    run = run_cli("--config", write_config(s3_config(bucket)))
    assert run.code == ExitCode.LOCKED
    assert "build-box-7" in run.err and f"s3://{bucket}/lake/{LOCK}" in run.err
    made = S3Server(aws_env.endpoint, aws_env.requests[start:])
    assert made.writes(bucket, ignore=(LOCK,)) == []
    assert set(aws_env.objects(bucket, "lake")) == {LOCK}
    assert json.loads(aws_env.objects(bucket, "lake")[LOCK]) == holder  # not broken


def test_a_lock_left_by_a_dead_run_on_this_machine_is_taken_over(
    tmp_path, write_config, run_cli, aws_env
):
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = {"host": socket.gethostname(), "pid": dead.pid, "since": "2026-11-26T08:00:00"}
    aws_env.client().put_object(Bucket=bucket, Key=f"lake/{LOCK}", Body=json.dumps(holder))
    run = run_cli("--config", write_config(s3_config(bucket)))
    assert run.code == ExitCode.OK, run.err
    objects = aws_env.objects(bucket, "lake")
    assert LOCK not in objects
    assert any(name.startswith(OUT) and name.endswith(".parquet") for name in objects)


def test_a_failed_job_still_releases_the_lock_and_uploads_what_it_finished(
    tmp_path, write_config, run_cli, aws_env
):
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    config = s3_config(bucket) + (
        "      - name: broken\n        mode: offline\n        path: bad/*.csv\n"
    )
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "X_History.csv").write_text("this is not a CBOE file\n")
    run = run_cli("--config", write_config(config))
    assert run.code == ExitCode.JOB_FAILED
    objects = aws_env.objects(bucket, "lake")
    assert LOCK not in objects
    assert any(name.startswith(OUT) and name.endswith(".parquet") for name in objects)
    assert not any(name.startswith("ingested/vix/broken") for name in objects)


def test_credentials_and_endpoint_from_env_file_and_storage_options(
    tmp_path, write_config, run_cli, aws_env, monkeypatch
):
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name)
    bucket = aws_env.new_bucket()
    (tmp_path / ".env").write_text(
        "AWS_ACCESS_KEY_ID=testing\nAWS_SECRET_ACCESS_KEY=very-secret-value-123\n"
    )
    options = f"storage_options:\n  endpoint_url: {aws_env.endpoint}\n"
    run = run_cli("--config", write_config(s3_config(bucket) + options), "-v")
    assert run.code == ExitCode.OK, run.err
    assert any(name.endswith(".parquet") for name in aws_env.objects(bucket, "lake"))
    assert "very-secret-value-123" not in run.out + run.err


def test_an_unreachable_bucket_is_one_clear_error(tmp_path, write_config, run_cli, aws_env):
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    run = run_cli("--config", write_config(s3_config("no-such-bucket-here")))
    assert run.code == ExitCode.CONFIG_ERROR
    assert "s3://no-such-bucket-here/lake" in run.err
    assert "Traceback" not in run.err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("storage_options:\n  anon: true\n", "storage_options applies only"),
        ("cache_dir: somewhere\n", "cache_dir applies only"),
    ],
)
def test_remote_only_keys_on_a_local_data_dir_are_config_errors(
    tmp_path, write_config, run_cli, extra, needle
):
    write_many_symbols(tmp_path / "in", symbols=1, days=50)
    config = write_config(CONFIG.format(data="data") + extra)
    run = run_cli("--config", config)
    assert run.code == ExitCode.CONFIG_ERROR
    assert needle in run.err and str(config) in run.err


def test_a_run_killed_before_its_upload_is_completed_by_the_next(
    tmp_path, write_config, run_cli, aws_env
):
    """SIGKILL once the first output is published in the working copy: nothing partial is
    in the bucket, and the next run uploads what the killed one made and makes the rest."""
    write_many_symbols(tmp_path / "in", symbols=10, days=3_000)
    local = run_cli("--config", write_config(CONFIG.format(data="local")), "--workers", "1")
    assert local.code == ExitCode.OK, local.err
    bucket = aws_env.new_bucket()
    config = write_config(s3_config(bucket))
    child = start_ingest(config)
    outputs = tmp_path / "cache" / OUT
    wait_for(child, lambda: any(outputs.glob(f"*.parquet{SIDECAR_SUFFIX}")), "a first output")
    child.send_signal(signal.SIGKILL)
    child.wait()
    partial = aws_env.objects(bucket, "lake")
    assert not [name for name in partial if name.endswith(".parquet")]  # nothing uploaded yet
    # its lock object stays (its process is gone: the next run here takes it over)
    again = run_cli("--config", config)
    assert again.code == ExitCode.OK, again.err
    objects = aws_env.objects(bucket, "lake")
    assert_same_outputs(objects, local_files(tmp_path / "local"))


def test_a_run_stopped_by_sigterm_uploads_what_it_finished(
    tmp_path, write_config, run_cli, aws_env
):
    """SIGTERM while a second job converts: the first job's outputs go up with their
    sidecars, nothing of the second, and the lock is released."""
    write_many_symbols(tmp_path / "in", symbols=2, days=300)
    write_many_symbols(tmp_path / "big", symbols=12, days=6_000)
    bucket = aws_env.new_bucket()
    config = write_config(
        s3_config(bucket) + "      - name: big\n        mode: offline\n        path: big/*/*.csv\n"
    )
    child = start_ingest(config)
    first = tmp_path / "cache" / OUT
    wait_for(child, lambda: len(list(engine_outputs(first))) == 2, "the first job's outputs")
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == ExitCode.TERMINATED
    objects = aws_env.objects(bucket, "lake")
    assert LOCK not in objects
    published = sorted(path.name for path in engine_outputs(first))
    assert published == ["IDX01.parquet", "VIX.parquet"]
    for name in published:
        assert objects[f"{OUT}/{name}"] == (first / name).read_bytes()
        assert f"{OUT}/{name}{SIDECAR_SUFFIX}" in objects
    assert not [name for name in objects if name.startswith("ingested/vix/big/")]


def test_each_job_reaches_the_bucket_when_it_ends(tmp_path, write_config, run_cli, aws_env):
    """A job's outputs are uploaded as soon as it ends, not at the end of the run: killed
    (SIGKILL) while a later job converts, the bucket already holds the earlier job's."""
    write_many_symbols(tmp_path / "in", symbols=2, days=300)
    write_many_symbols(tmp_path / "big", symbols=12, days=6_000)
    bucket = aws_env.new_bucket()
    config = write_config(
        s3_config(bucket) + "      - name: big\n        mode: offline\n        path: big/*/*.csv\n"
    )
    child = start_ingest(config)
    s3 = aws_env.client()

    def uploaded() -> bool:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"lake/{OUT}/").get("Contents", [])
        suffix = ".parquet" + SIDECAR_SUFFIX  # the outputs' sidecars, not the table's record
        return len([item for item in listed if item["Key"].endswith(suffix)]) == 2

    wait_for(child, uploaded, "the first job's outputs in the bucket")
    child.send_signal(signal.SIGKILL)
    child.wait()
    objects = aws_env.objects(bucket, "lake")
    for name in ("VIX.parquet", "IDX01.parquet"):
        assert objects[f"{OUT}/{name}"] == (tmp_path / "cache" / OUT / name).read_bytes()
    assert not [name for name in objects if name.startswith("ingested/vix/big/")]


@pytest.mark.parametrize("cache", [".", "''", "'..'"])
def test_a_working_copy_holding_the_config_is_refused(
    tmp_path, write_config, run_cli, aws_env, cache
):
    """Every file of the working copy goes up to the bucket: one that holds the config
    would upload its .env, secrets and all."""
    write_many_symbols(tmp_path / "in", symbols=1, days=50)
    (tmp_path / ".env").write_text("AWS_SECRET_ACCESS_KEY=testing-secret\n")
    bucket = aws_env.new_bucket()
    config = write_config(s3_config(bucket, cache))
    run = run_cli("--config", config)
    assert run.code == ExitCode.CONFIG_ERROR
    assert f"{config}:2: cache_dir" in run.err and "holds this config file" in run.err
    assert aws_env.objects(bucket) == {}


def test_a_hand_edited_manifest_is_compared_again_not_a_crash(
    tmp_path, write_config, run_cli, aws_env
):
    """The working copy's manifest edited by hand (an entry not a record): the files it
    describes are compared again, and the run goes on."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    config = write_config(s3_config(bucket))
    first = run_cli("--config", config)
    assert first.code == ExitCode.OK, first.err
    manifest = tmp_path / "cache" / ".multigate-sync.json"
    record = json.loads(manifest.read_text())
    record["files"]["ingested/vix/many/VIX.parquet"] = 1
    manifest.write_text(json.dumps(record))
    stored = aws_env.objects(bucket, "lake")

    again = run_cli("--config", config)

    assert again.code == ExitCode.OK, again.err
    assert "Traceback" not in again.err and "AttributeError" not in again.err
    assert aws_env.objects(bucket, "lake") == stored


def test_a_working_copy_belongs_to_one_store(tmp_path, write_config, run_cli, aws_env, monkeypatch):
    """Two stores (a company S3 and a test MinIO) may hold buckets of the same name: a
    working copy made against one is refused against the other, rather than mixing their
    files (and uploading one's paid files to the other)."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    config = write_config(s3_config(bucket))
    first = run_cli("--config", config)
    assert first.code == ExitCode.OK, first.err
    with running_s3_server() as other_store:
        monkeypatch.setenv("AWS_ENDPOINT_URL", other_store.endpoint)
        run = run_cli("--config", config)
    assert run.code == ExitCode.CONFIG_ERROR
    assert aws_env.endpoint in run.err and other_store.endpoint in run.err
    assert "Traceback" not in run.err


def test_a_run_stopped_again_while_uploading_keeps_its_lock(
    tmp_path, write_config, run_cli, aws_env
):
    """Stopped (SIGTERM), the run uploads what it finished; stopped again during that
    upload (an impatient second Ctrl-C), it leaves files the bucket lacks, so its lock
    stays: another machine is kept out until a run with this working copy uploads them."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    aws_env.slow("PUT", ".parquet", 2.0)
    config = write_config(s3_config(bucket))
    child = start_ingest(config)

    def uploads_started() -> int:
        return len(
            [
                1
                for method, path in aws_env.requests
                if method == "PUT" and path.startswith(f"/{bucket}/") and ".parquet?" in path
            ]
        )

    # the job's upload (4 Parquet objects: 2 outputs and their tables' links), then the
    # stopped run's, which starts them again
    for signalled, started in enumerate((1, 5)):
        wait_for(child, lambda n=started: uploads_started() >= n, f"stop {signalled + 1}")
        child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == ExitCode.TERMINATED
    assert LOCK in aws_env.objects(bucket, "lake")
    aws_env.reset()

    other = run_cli("--config", write_config(s3_config(bucket, "other-machine")))
    assert other.code == ExitCode.LOCKED, other.err
    again = run_cli("--config", write_config(s3_config(bucket)))
    assert again.code == ExitCode.OK, again.err
    objects = aws_env.objects(bucket, "lake")
    assert LOCK not in objects
    for name in ("VIX.parquet", "IDX01.parquet"):
        assert objects[f"{OUT}/{name}"] == (tmp_path / "cache" / OUT / name).read_bytes()


def test_a_lock_taken_over_stays_when_the_run_fails_before_uploading(
    tmp_path, write_config, run_cli, aws_env
):
    """A run whose upload failed keeps its lock; the next run here takes it over but fails
    too before it uploads (the bucket cannot be listed): the lock still stays, since the
    working copy still holds files the bucket lacks."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    bucket = aws_env.new_bucket()
    config = write_config(s3_config(bucket))
    aws_env.refuse("PUT", ".parquet")
    first = run_cli("--config", config)
    assert first.code == ExitCode.JOB_FAILED
    aws_env.reset()
    aws_env.refuse("GET", f"/{bucket}")  # listing the bucket

    second = run_cli("--config", config)

    assert second.code == ExitCode.CONFIG_ERROR
    assert "Traceback" not in second.err
    aws_env.reset()
    assert LOCK in aws_env.objects(bucket, "lake")
    other = run_cli("--config", write_config(s3_config(bucket, "other-machine")))
    assert other.code == ExitCode.LOCKED, other.err


def test_a_run_of_some_jobs_fetches_only_what_they_read(tmp_path, write_config, run_cli, aws_env):
    """A fresh copy running one job of a lake fetches that job's folder (and the snapshot
    records), not the other jobs' outputs; nothing is taken for deleted, nothing written."""
    write_many_symbols(tmp_path / "in", symbols=2, days=200)
    write_many_symbols(tmp_path / "more", symbols=3, days=200)
    bucket = aws_env.new_bucket()
    two_jobs = "      - name: more\n        mode: offline\n        path: more/*/*.csv\n"
    first = run_cli("--config", write_config(s3_config(bucket) + two_jobs))
    assert first.code == ExitCode.OK, first.err
    stored = aws_env.objects(bucket, "lake")
    assert any(name.startswith("ingested/vix/more/") for name in stored)

    start = len(aws_env.requests)
    config = write_config(s3_config(bucket, "one-job-copy") + two_jobs)
    one = run_cli("--config", config, "--job", "many")
    assert one.code == ExitCode.OK, one.err
    assert "up to date" in one.out
    fetched = local_files(tmp_path / "one-job-copy")
    assert any(name.startswith(f"{OUT}/") for name in fetched)
    assert not any(name.startswith("ingested/vix/more/") for name in fetched)
    gets = [path for method, path in aws_env.requests[start:] if method == "GET"]
    assert not [path for path in gets if "/ingested/vix/more/" in path]
    assert S3Server(aws_env.endpoint, aws_env.requests[start:]).writes(bucket, ignore=(LOCK,)) == []

    both = run_cli("--config", config)
    assert both.code == ExitCode.OK, both.err
    assert aws_env.objects(bucket, "lake") == stored  # nothing deleted, nothing rewritten
    fetched = local_files(tmp_path / "one-job-copy")
    assert {name: fetched[name] for name in stored} == stored
