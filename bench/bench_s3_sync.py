"""Benchmark: synchronizing the working copy of an ``s3://`` data folder (moto's S3 server
on 127.0.0.1, through s3fs) that holds many files.

Writes ``--outputs`` small Parquet outputs with their sidecars into a working copy, then
times: the first upload, a pull and a push when nothing changed (what every run pays), a
push after one output changed, and a fresh copy's first pull (a new machine). Prints
files/s, requests made and peak memory.

Usage (from the repo root, in .venv):
    python bench/bench_s3_sync.py [--outputs 5000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from _measure import peak_rss_mb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes


def _fill(root: Path, outputs: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"ts": pa.array(range(100), pa.int64()), "x": pa.array([1.0] * 100)})
    for index in range(outputs):
        folder = root / "ingested" / "bench" / f"job{index % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"out{index:06d}.parquet"
        pq.write_table(table, path)
        (folder / f"{path.name}.source.json").write_text('{"kind": "ingested"}\n' * 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=int, default=5_000)
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out/s3_sync"))
    args = parser.parse_args()

    from multigate.storage.remote.filesystem import open_filesystem
    from multigate.storage.remote.location import parse_remote
    from multigate.storage.remote.working_copy import pull, push
    from tests.fakes.s3_server import running_s3_server

    out = args.out_dir.resolve()
    shutil.rmtree(out, ignore_errors=True)
    with running_s3_server() as s3:
        env = {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": s3.endpoint,
        }
        bucket = s3.new_bucket()
        url = f"s3://{bucket}/lake"
        first = parse_remote(url, cache_dir=out / "copy-a")
        other = parse_remote(url, cache_dir=out / "copy-b")
        _fill(first.cache_dir, args.outputs)
        files = 2 * args.outputs
        fs = open_filesystem(first, env)
        print(f"{files:,} files ({args.outputs:,} outputs and their sidecars)")
        print(f"{'step':<32}{'seconds':>9}{'files/s':>10}{'requests':>10}")

        def step(label: str, call: object, moved: int) -> None:
            start, before = time.perf_counter(), len(s3.requests)
            call()  # type: ignore[operator]
            seconds = time.perf_counter() - start
            rate = f"{moved / seconds:,.0f}" if moved else "-"
            print(f"{label:<32}{seconds:>9.2f}{rate:>10}{len(s3.requests) - before:>10}")

        step("first upload", lambda: push(fs, first), files)
        step("pull, nothing changed", lambda: pull(fs, first), 0)
        step("push, nothing changed", lambda: push(fs, first), 0)
        changed = next((first.cache_dir / "ingested").rglob("*.parquet"))
        os.utime(changed)
        step("push, one output changed", lambda: push(fs, first), 1)
        step("fresh copy: first pull", lambda: pull(fs, other), files)
    print(f"peak RSS (this process, S3 server included): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
