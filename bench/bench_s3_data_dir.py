"""Benchmark: a Databento offline job of many DBN files into an ``s3://`` data folder (moto's
S3 server on 127.0.0.1, through s3fs) on a Dask LocalCluster of 2 workers, against the same
job run serially into a local folder.

Prints wall seconds and rows/s of each run, what went over the wire (requests, writes,
MB up/down), whether the bucket's Parquet bytes equal the local run's, and what a second
run and a fresh working copy (another machine) cost: the second run must write nothing.

Usage (from the repo root, in .venv):
    python bench/bench_s3_data_dir.py [--files 8] [--records 10000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from _measure import peak_rss_mb
from bench_databento_engine import CONFIG, OUT, _make_inputs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes

LOCK = ".multigate.lock"


def _run(config: Path, *args: str) -> float:
    from multigate.cli import main

    start = time.perf_counter()
    code = main(["--config", str(config), "-q", *args])
    if code != 0:
        raise SystemExit(f"ingest exited {code}")
    return time.perf_counter() - start


def _report_bucket(s3: Any, bucket: str, local: dict[str, bytes]) -> None:
    objects = s3.objects(bucket, "lake")
    same = all(objects.get(name) == data for name, data in local.items())
    print(
        f"  bucket: {len(objects)} objects, {sum(map(len, objects.values())) / 1e6:.0f} MB; "
        + ("Parquet bytes identical to the local serial run" if same else "OUTPUT DIFFERS")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--records", type=int, default=10_000_000, help="in all")
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out/s3_data_dir"))
    args = parser.parse_args()
    import distributed
    import pyarrow.parquet as pq

    from tests.fakes.s3_server import S3Server, running_s3_server

    out = args.out_dir.resolve()
    inputs = out / f"inputs-{args.files}x{args.records}"
    _make_inputs(inputs, args.files, args.records)
    for name in ("local", "copy-a", "copy-b"):
        shutil.rmtree(out / name, ignore_errors=True)
    local_config = out / "local.yaml"
    local_config.write_text(CONFIG.format(data=out / "local", inputs=inputs))
    serial = _run(local_config, "--workers", "1")
    local = {
        path.relative_to(out / "local").as_posix(): path.read_bytes()
        for path in sorted((out / "local" / OUT).rglob("*.parquet"))
    }
    rows = sum(pq.read_metadata(out / "local" / name).num_rows for name in local)
    print(f"{args.files} DBN files, {rows:,} rows; local serial run: {serial:.2f} s")
    with (
        running_s3_server() as s3,
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
    ):
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench-secret",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=s3.endpoint,
        )
        bucket = s3.new_bucket()
        dask = ("--executor", "dask", "--scheduler", cluster.scheduler_address)
        print(f"{'run':<34}{'seconds':>9}{'rows/s':>12}{'requests':>10}{'writes':>8}")
        for label, copy in (
            ("dask -> s3, first run", "copy-a"),
            ("dask -> s3, second run", "copy-a"),
            ("dask -> s3, fresh working copy", "copy-b"),
        ):
            config = out / f"{copy}.yaml"
            config.write_text(
                CONFIG.format(data=f"s3://{bucket}/lake\ncache_dir: {out / copy}", inputs=inputs)
            )
            start = len(s3.requests)
            seconds = _run(config, *dask)
            made = S3Server(s3.endpoint, s3.requests[start:])
            writes = made.writes(bucket, ignore=(LOCK,))
            print(
                f"{label:<34}{seconds:>9.2f}{rows / seconds:>12,.0f}{len(made.requests):>10}"
                f"{len(writes):>8}"
            )
        _report_bucket(s3, bucket, local)
        # Workers on "another machine" (a scheduler on 127.0.0.2: not this machine's name
        # for itself): tasks exchange inputs and outputs through the bucket.
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.2", dashboard_address=None
        ) as far:
            far_bucket = s3.new_bucket()
            config = out / "copy-far.yaml"
            shutil.rmtree(out / "copy-far", ignore_errors=True)
            config.write_text(
                CONFIG.format(
                    data=f"s3://{far_bucket}/lake\ncache_dir: {out / 'copy-far'}", inputs=inputs
                )
            )
            start = len(s3.requests)
            seconds = _run(config, "--scheduler", far.scheduler_address)
            made = S3Server(s3.endpoint, s3.requests[start:])
            staged = [path for _, path in made.requests if "/.multigate-staging/" in path]
            print(
                f"{'far workers -> s3 (staged)':<34}{seconds:>9.2f}{rows / seconds:>12,.0f}"
                f"{len(made.requests):>10}{len(made.writes(far_bucket, ignore=(LOCK,))):>8}"
                f"   ({len(staged)} staging requests)"
            )
            _report_bucket(s3, far_bucket, local)
    print(f"peak RSS of this process (coordinator + S3 server): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
