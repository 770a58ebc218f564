"""Benchmark: one Databento offline job of many DBN files through the task engine, with
--workers 1 and --workers 2 (and optionally a Dask LocalCluster of 2 workers).

Generates ``--files`` synthetic trades files (zstd DBN v3, ``--records`` in all, made with
the project's own dbn_synthetic), runs the job in a fresh interpreter per executor into
its own data folder, checks that every executor wrote the same bytes, and prints wall
seconds, CPU seconds of the process tree, rows/s, the coordinator's peak RSS, each worker
process's peak RSS (VmHWM, sampled) and the 1-minute load average before and after (other
work on the machine: with 2 cores and a load above 2, no executor can beat serial).

``--repeat N`` runs the modes N times in turn (the machine is shared: the best and the
median of each mode, and the speed-ups of both, are printed at the end).

Usage (from the repo root, in .venv):
    python bench/bench_databento_engine.py [--files 8] [--records 10000000] [--modes 1 2]
        [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

from _measure import peak_rss_mb, run_child
from bench_engine import _WorkerPeaks

CONFIG = """\
data_dir: {data}
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: bench
        mode: offline
        raw_dir: {inputs}
"""
MODES = {"1": ["--workers", "1"], "2": ["--workers", "2"], "dask": ["--executor", "dask"]}
OUT = "ingested/databento/bench"


def _child(mode: str, config: Path) -> None:
    from multigate.cli import main

    args = MODES[mode] if mode != "dask" else [*MODES[mode], "--workers", "2"]
    load = os.getloadavg()[0]
    with _WorkerPeaks() as peaks:
        start = time.perf_counter()
        code = main(["--config", str(config), "-q", *args])
        elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"ingest exited {code}")
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "cpu": own.ru_utime + own.ru_stime + sum(peaks.cpu.values()),
                "coordinator_mb": peak_rss_mb(),
                "worker_mb": sorted(peaks.peaks.values(), reverse=True),
                "load_before": load,
                "load_after": os.getloadavg()[0],
            }
        )
    )


def _make_inputs(folder: Path, files: int, records: int) -> None:
    from multigate.sources.databento.dbn_synthetic import write_synthetic_file

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        path = folder / f"trades-{index:02d}.dbn.zst"
        count = records // files + (1 if index < records % files else 0)
        if not path.exists():
            tmp = path.with_name(f".{path.name}.part")
            write_synthetic_file(tmp, "trades", count, seed=index)
            tmp.rename(path)


def _outputs(data: Path) -> tuple[int, dict[str, str]]:
    import pyarrow.parquet as pq

    files = sorted((data / OUT).rglob("*.parquet"))
    rows = sum(pq.read_metadata(path).num_rows for path in files)
    digests = {
        str(path.relative_to(data / OUT)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in files
    }
    return rows, digests


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--records", type=int, default=10_000_000, help="in all")
    parser.add_argument("--modes", nargs="+", default=["1", "2"], choices=list(MODES))
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out/databento_engine"))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode, in turn")
    args = parser.parse_args()
    inputs = (args.out_dir / f"inputs-{args.files}x{args.records}").resolve()
    _make_inputs(inputs, args.files, args.records)
    size = sum(path.stat().st_size for path in inputs.iterdir()) / 1e6
    print(f"{args.files} DBN files, {args.records:,} trades in all ({size:.0f} MB zstd)")
    print(
        f"{'executor':<10}{'seconds':>9}{'cpu s':>8}{'rows/s':>12}{'coord MB':>10}"
        f"{'worker MB (each)':>20}{'load':>12}"
    )
    reference: dict[str, str] | None = None
    seconds: dict[str, list[float]] = {mode: [] for mode in args.modes}
    for mode in [mode for _ in range(args.repeat) for mode in args.modes]:
        data = (args.out_dir / f"data-{mode}").resolve()
        shutil.rmtree(data, ignore_errors=True)
        config = args.out_dir / f"ingest-{mode}.yaml"
        config.write_text(CONFIG.format(data=data, inputs=inputs))
        result = run_child(__file__, mode, str(config))
        rows, digests = _outputs(data)
        same = reference is None or digests == reference
        reference = reference or digests
        seconds[mode].append(float(result["elapsed"]))
        workers = result["worker_mb"]
        each = "-" if mode == "1" or not workers else "/".join(f"{mb:.0f}" for mb in workers)
        load = f"{result['load_before']:.1f}->{result['load_after']:.1f}"
        print(
            f"{mode:<10}{result['elapsed']:>9.2f}{result['cpu']:>8.1f}"
            f"{rows / result['elapsed']:>12,.0f}{result['coordinator_mb']:>10.0f}"
            f"{each:>20}{load:>12}" + ("   identical bytes" if same else "   OUTPUT DIFFERS")
        )
    best = {mode: min(runs) for mode, runs in seconds.items()}
    median = {mode: statistics.median(runs) for mode, runs in seconds.items()}
    if args.repeat > 1:
        for mode in args.modes:
            print(f"{mode:<10}best {best[mode]:.2f} s, median {median[mode]:.2f} s")
    if "1" in seconds and "2" in seconds:
        print(
            f"speed-up --workers 2 vs 1: {best['1'] / best['2']:.2f}x"
            + (f" (best), {median['1'] / median['2']:.2f}x (median)" if args.repeat > 1 else "")
        )


if __name__ == "__main__":
    main()
