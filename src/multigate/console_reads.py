"""``multigate ls``, ``show`` and ``read``: datasets and their rows in the terminal, or
written to a file outside the data folder."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from multigate.catalog import Catalog, CatalogError
from multigate.exit_codes import ExitCode
from multigate.terminal_view import (
    column_stats,
    head_and_tail,
    print_first_rows,
    print_rows,
    print_table,
    scanned_stats,
    screen_width,
)

SAMPLE_ROWS = 5
SCANNED_STATS_ROWS = 2_000_000
"""``show`` computes column statistics from the rows up to this size, else from footers."""


class CannotWrite(OSError):
    """An output file (``--out``) that could not be written, said with its own name."""

    def __init__(self, path: Path, exc: OSError) -> None:
        super().__init__(f"cannot write {path}: {exc.strerror or exc}")


def open_catalog(args: argparse.Namespace) -> Catalog:
    """The catalog the command names; an object-store data folder's working copy is
    brought up to date first, with a progress bar on a terminal."""
    from multigate.progress import RichProgress

    progress = RichProgress() if sys.stderr.isatty() else None
    if args.data_dir is not None:
        return Catalog.open(args.data_dir, progress=progress)
    return Catalog.from_config(args.config, progress=progress)


# -- ls / show ------------------------------------------------------------------------


def no_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run_ls(args: argparse.Namespace) -> int:
    catalog = open_catalog(args)
    rows = [("dataset", "time", "rows", "files", "symbols", "start", "end", "snapshot", "quality")]
    for info in catalog.datasets():
        rows.append(
            (
                info.name,
                info.time_column,
                f"{info.rows:,}",
                str(info.files),
                str(len(info.symbols)),
                when(info.start),
                when(info.end),
                info.snapshot or "-",
                _quality(info.quality),
            )
        )
    if len(rows) == 1:
        where = catalog.remote.url if catalog.remote is not None else str(catalog.data_dir)
        print(f"no datasets in {where} yet (run `multigate ingest` first)")
        return ExitCode.OK
    print_table(rows, sys.stdout)
    return ExitCode.OK


def _quality(flagged: dict[str, int]) -> str:
    """The rows each failing row check flagged (``multigate check`` says more)."""
    if not flagged:
        return "ok"
    return ", ".join(f"{check} {count:,}" for check, count in sorted(flagged.items()))


def dataset_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help='"<source>/<job>" or "<source>/<job>/<schema>"')


def run_show(args: argparse.Namespace) -> int:
    catalog = open_catalog(args)
    info = catalog.dataset(args.dataset)
    print(f"dataset      {info.name}")
    print(f"source/job   {info.source}/{info.job}")
    print(f"time column  {info.time_column}")
    print(f"range        {when(info.start)} .. {when(info.end)}")
    print(f"rows         {info.rows:,} in {info.files} file(s), {info.bytes:,} bytes")
    print(f"symbols      {', '.join(info.symbols) or '-'}")
    print(f"snapshot     {info.snapshot or '-'}")
    print(f"quality      {_quality(info.quality)}")
    if info.rows <= SCANNED_STATS_ROWS:
        print("columns (nulls, min and max of every row)")
        reader = catalog.scan(args.dataset)
        found = scanned_stats(reader, reader.schema)
    else:  # reading every row would take long: the footers' statistics say most of it
        print("columns (nulls, min and max from the Parquet footers; '-': not recorded)")
        found = column_stats(catalog.files(args.dataset))
    stats = [("  column", "type", "nulls", "min", "max")]
    stats += [
        (f"  {name}", kind, f"{nulls:,}", low, high) for name, kind, nulls, low, high in found
    ]
    print_table(stats, sys.stdout, screen_width())
    print(f"sample rows (the first {SAMPLE_ROWS}; multigate read shows more)")
    reader = catalog.scan(args.dataset, batch_rows=SAMPLE_ROWS)
    print_first_rows(reader, reader.schema, SAMPLE_ROWS, sys.stdout, screen_width())
    snapshots = catalog.snapshots(args.dataset)
    print(f"snapshots    {len(snapshots)}")
    for snap in snapshots:
        print(f"  {snap.id}  {snap.created_at:%Y-%m-%d %H:%M:%S}Z")
    return ExitCode.OK


# -- read -----------------------------------------------------------------------------


def read_arguments(parser: argparse.ArgumentParser) -> None:
    dataset_argument(parser)
    parser.add_argument("--symbols", help="comma-separated symbols (default: all)")
    parser.add_argument("--start", help="inclusive, UTC: 2024-01-02 or 2024-01-02T14:30Z")
    parser.add_argument("--end", help="exclusive, UTC")
    parser.add_argument("--as-of", help="a snapshot id or a time: the data as it was then")
    parser.add_argument("--columns", help="comma-separated columns (default: all)")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="read the symbols the dataset holds when --symbols names others (default: error)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="FILE.parquet or FILE.csv, outside the data folder (default: print a table)",
    )
    parser.add_argument(
        "--limit",
        type=_row_count,
        default=10,
        metavar="N",
        help="without --out: show N rows, the first and the last (default 10)",
    )


def run_read(args: argparse.Namespace) -> int:
    from multigate.catalog.export import write_batches

    if args.out is not None and args.out.suffix.lower() not in (".parquet", ".csv"):
        raise CatalogError(f"--out {args.out}: the name must end in .parquet or .csv")
    catalog = open_catalog(args)
    if args.out is not None:
        _refuse_inside(catalog, args.out)
    reader = catalog.scan(
        args.dataset,
        symbols=split(args.symbols),
        start=args.start,
        end=args.end,
        columns=split(args.columns),
        as_of=args.as_of,
        allow_missing=args.allow_missing,
    )
    if args.out is None:
        print_rows(head_and_tail(reader, args.limit), reader.schema, sys.stdout, screen_width())
        return ExitCode.OK
    try:
        rows = write_batches(reader, args.out)
    except OSError as exc:
        raise CannotWrite(args.out, exc) from exc
    print(f"wrote {rows:,} rows to {args.out}")
    return ExitCode.OK


def _refuse_inside(catalog: Catalog, out: Path) -> None:
    """An export never lands in the data folder: it would replace or sit beside outputs
    the catalog and the runs own (and a later read would skip or prune it)."""
    target = out.expanduser().resolve()
    folder = catalog.data_dir.resolve()
    if target.is_relative_to(folder):
        raise CatalogError(
            f"--out {out}: inside the data folder {folder}; write the export elsewhere "
            "(the data folder holds only what runs write)"
        )


def _row_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def describe_os_error(exc: OSError) -> str:
    """``/proc/x.html: cannot write: No such file or directory``, not an exception's name."""
    if isinstance(exc, CannotWrite):
        return str(exc)
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__
