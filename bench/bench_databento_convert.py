"""Benchmark: multigate's DBN -> Parquet converter vs databento's DBNStore.to_parquet.

Generates synthetic DBN v3 files with databento_dbn (many instruments), converts each
with both converters, each in a fresh subprocess, and reports records/s, MB/s (of the
input file), peak RSS (VmHWM of the child) and output size.

Usage (from the repo root):
    PYTHONPATH=src python bench/bench_databento_convert.py [flags]

Flags:
    --records N [N ...]   record counts to generate (default: 1000000)
    --schema S [S ...]    schemas (default: trades mbp-1 ohlcv-1m)
    --instruments N       distinct instrument ids (default: 500)
    --zst                 write the input as .dbn.zst instead of plain .dbn
    --no-vendor           skip DBNStore.to_parquet (e.g. for very large files)
    --out-dir DIR         where inputs/outputs go (default: bench/out, gitignored)
    --keep                keep generated inputs and outputs
The default run (1M records x 3 schemas) takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from _measure import peak_rss_mb, run_child

HERE = Path(__file__).resolve().parent


def _child(kind: str, src: Path, dst: Path) -> None:
    """Run one conversion in this (fresh) process and print a JSON result line."""
    start = time.perf_counter()
    if kind == "ours":
        from multigate.sources.databento.dbn_convert import convert_dbn_file

        outs = convert_dbn_file(src, lambda _schema: dst)
        rows = sum(o.rows for o in outs)
    else:
        import databento as db

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            store = db.DBNStore.from_file(src)
            store.to_parquet(dst)
        rows = -1
    elapsed = time.perf_counter() - start
    print(json.dumps({"elapsed": elapsed, "rss_mb": peak_rss_mb(), "rows": rows}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--schema", nargs="+", default=["trades", "mbp-1", "ohlcv-1m"])
    ap.add_argument("--instruments", type=int, default=500)
    ap.add_argument("--zst", action="store_true")
    ap.add_argument("--no-vendor", action="store_true")
    ap.add_argument("--out-dir", type=Path, default=HERE / "out")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "DST"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, src, dst = args.child
        _child(kind, Path(src), Path(dst))
        return

    from multigate.sources.databento.dbn_synthetic import write_synthetic_file

    args.out_dir.mkdir(parents=True, exist_ok=True)
    header = (
        f"{'schema':<9} {'records':>11} {'in MB':>8} {'converter':<10} {'secs':>7} "
        f"{'rec/s':>11} {'MB/s':>7} {'peak RSS MB':>11} {'out MB':>7} {'speedup':>7}"
    )
    print(header)
    print("-" * len(header))
    for schema in args.schema:
        for n in args.records:
            ext = ".dbn.zst" if args.zst else ".dbn"
            src = args.out_dir / f"bench.{schema}.{n}{ext}"
            write_synthetic_file(src, schema, records=n, n_instruments=args.instruments)
            in_mb = src.stat().st_size / 1e6
            kinds = ["ours"] if args.no_vendor else ["ours", "vendor"]
            rates: dict[str, float] = {}
            for kind in kinds:
                dst = args.out_dir / f"bench.{schema}.{n}.{kind}.parquet"
                res = run_child(__file__, kind, str(src), str(dst))
                secs = res["elapsed"]
                rates[kind] = n / secs
                if kind == "ours":
                    assert res["rows"] == n, res
                speed = f"{rates['ours'] / rates['vendor']:.1f}x" if kind == "vendor" else ""
                print(
                    f"{schema:<9} {n:>11,} {in_mb:>8.1f} {kind:<10} {secs:>7.2f} "
                    f"{n / secs:>11,.0f} {in_mb / secs:>7.1f} {res['rss_mb']:>11.0f} "
                    f"{dst.stat().st_size / 1e6:>7.1f} {speed:>7}",
                    flush=True,
                )
                if not args.keep:
                    dst.unlink()
            if not args.keep:
                src.unlink()


if __name__ == "__main__":
    main()
