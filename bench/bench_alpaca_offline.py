"""Benchmark: one Alpaca offline job of several symbol files through the task engine, with
--workers 1 and --workers 2.

Writes ``--files`` CSV files of ``--rows`` one-minute bars each (one symbol per file), runs
the job in a fresh interpreter per setting into its own data folder, checks that both
wrote the same bytes, and prints wall seconds, rows/s and the 1-minute load average (with
2 cores and a load above 2, no setting can run faster than serial).

Usage (from the repo root, in .venv):
    python bench/bench_alpaca_offline.py [--files 8] [--rows 250000] [--out-dir bench/out/alpaca]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

CONFIG = """\
data_dir: {data}
sources:
  alpaca:
    enabled: true
    mode: offline
    jobs:
      - name: bench
        mode: offline
        path: {inputs}/*.csv
        timeframe: 1Min
        feed: iex
        adjustment: raw
"""


def write_inputs(folder: Path, files: int, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    times = pd.date_range("2020-01-01", periods=rows, freq="min", tz="UTC")
    for index in range(files):
        rng = np.random.default_rng(index)
        close = 100 + rng.standard_normal(rows).cumsum()
        pd.DataFrame(
            {
                "timestamp": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "open": close,
                "high": close + 1,
                "low": close - 1,
                "close": close,
                "volume": rng.integers(1, 1000, rows),
                "symbol": f"S{index:02d}",
            }
        ).to_csv(folder / f"S{index:02d}.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out/alpaca"))
    args = parser.parse_args()
    out = args.out_dir.resolve()
    shutil.rmtree(out, ignore_errors=True)
    write_inputs(out / "in", args.files, args.rows)
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{repo / 'src'}{os.pathsep}{repo}"}
    digests = {}
    for workers in ("1", "2"):
        config = out / f"ingest-{workers}.yaml"
        config.write_text(CONFIG.format(data=out / f"data-{workers}", inputs=out / "in"))
        started = time.perf_counter()
        command = [sys.executable, "-m", "scripts.ingest", "--config", str(config)]
        done = subprocess.run(
            [*command, "--workers", workers], cwd=repo, env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"--workers {workers} failed:\n{done.stderr}")
        outputs = sorted((out / f"data-{workers}").rglob("*.parquet"))
        digests[workers] = [hashlib.sha256(path.read_bytes()).hexdigest() for path in outputs]
        rate = args.files * args.rows / seconds
        print(
            f"--workers {workers}: {seconds:6.1f} s  {rate:12,.0f} rows/s  "
            f"{len(outputs)} outputs  load {os.getloadavg()[0]:.1f}"
        )
    print("identical bytes:", digests["1"] == digests["2"])


if __name__ == "__main__":
    main()
