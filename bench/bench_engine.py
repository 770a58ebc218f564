"""Benchmark: one VIX job of many files through the task engine, with --workers 1, with
--workers 2 and on a Dask LocalCluster.

Generates ``--symbols`` synthetic CBOE histories of ``--days`` rows each (the project's
own sample code), runs the job in a fresh interpreter per executor into its own data
folder, checks that every executor wrote the same bytes, and prints wall seconds, CPU
seconds of the whole process tree, rows/s, the coordinator's peak RSS, the largest worker
process's peak RSS (VmHWM, sampled) and the 1-minute load average (other work on the
machine: with 2 cores and a load above 2, no executor can run faster than serial).

Usage (from the repo root, in .venv):
    python bench/bench_engine.py [--symbols 16] [--days 60000] [--out-dir bench/out/engine]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

from _measure import peak_rss_mb, run_child

CONFIG = """\
data_dir: {data}
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: bench
        mode: offline
        path: {inputs}/*_History.csv
"""
MODES = {"1": ["--workers", "1"], "2": ["--workers", "2"], "dask": ["--executor", "dask"]}


class _WorkerPeaks:
    """Samples the VmHWM (peak RSS) of every process below this one while a run works."""

    def __init__(self) -> None:
        self.peaks: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.05):
            for child in me.children(recursive=True):
                with contextlib.suppress(OSError, IndexError, ValueError):
                    status = Path(f"/proc/{child.pid}/status").read_text()
                    for line in status.splitlines():
                        if line.startswith("VmHWM:"):
                            self.peaks[child.pid] = int(line.split()[1]) / 1024
                    fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
                    ticks = int(fields[11]) + int(fields[12])  # utime + stime
                    self.cpu[child.pid] = ticks / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> _WorkerPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _child(mode: str, config: Path) -> None:
    from multigate.cli import main

    workers = MODES[mode] if mode != "dask" else [*MODES[mode], "--workers", "2"]
    with _WorkerPeaks() as peaks:
        start = time.perf_counter()
        code = main(["--config", str(config), "-q", *workers])
        elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"ingest exited {code}")
    worker_mb = max(peaks.peaks.values(), default=0.0)
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu = own.ru_utime + own.ru_stime + sum(peaks.cpu.values())
    result = {
        "elapsed": elapsed,
        "cpu": cpu,
        "coordinator_mb": peak_rss_mb(),
        "worker_mb": worker_mb,
        "load": os.getloadavg()[0],
    }
    print(json.dumps(result))


def _make_inputs(folder: Path, symbols: int, days: int) -> None:
    from multigate.sample.vix import SEED, cboe_csv, synthetic_history

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(symbols):
        path = folder / f"IDX{index:02d}_History.csv"
        if not path.exists():
            path.write_bytes(cboe_csv(synthetic_history(seed=SEED + index, days=days)))


def _outputs(data: Path) -> tuple[int, dict[str, str]]:
    import pyarrow.parquet as pq

    files = sorted((data / "ingested/vix/bench").glob("*.parquet"))
    rows = sum(pq.read_metadata(path).num_rows for path in files)
    return rows, {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=16)
    parser.add_argument("--days", type=int, default=60_000, help="rows per file")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out/engine"))
    args = parser.parse_args()
    inputs = (args.out_dir / "inputs").resolve()
    _make_inputs(inputs, args.symbols, args.days)
    print(f"{args.symbols} files x {args.days:,} rows (CBOE CSV, {_size_mb(inputs):.0f} MB)")
    print(
        f"{'executor':<10}{'seconds':>9}{'cpu s':>8}{'rows/s':>12}"
        f"{'coordinator MB':>16}{'worker MB':>11}{'load':>6}"
    )
    reference: dict[str, str] | None = None
    for mode in args.modes:
        data = (args.out_dir / f"data-{mode}").resolve()
        shutil.rmtree(data, ignore_errors=True)
        config = args.out_dir / f"ingest-{mode}.yaml"
        config.write_text(CONFIG.format(data=data, inputs=inputs))
        result = run_child(__file__, mode, str(config))
        rows, digests = _outputs(data)
        same = reference is None or digests == reference
        reference = reference or digests
        worker = "-" if mode == "1" else f"{result['worker_mb']:.0f}"
        print(
            f"{mode:<10}{result['elapsed']:>9.2f}{result['cpu']:>8.1f}"
            f"{rows / result['elapsed']:>12,.0f}"
            f"{result['coordinator_mb']:>16.0f}{worker:>11}{result['load']:>6.1f}"
            + ("" if same else "   OUTPUT DIFFERS")
        )


def _size_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.iterdir()) / 1e6


if __name__ == "__main__":
    main()
