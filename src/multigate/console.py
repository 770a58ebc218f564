"""``multigate``: one command for ingesting and for reading what was ingested.

::

    multigate ingest [...]                 the same as python -m scripts.ingest [...]
    multigate ls                           datasets with rows, files, time range, snapshot
    multigate show DATASET                 one dataset: columns, symbols, snapshots
    multigate read DATASET [--out FILE]    rows as a table, or to .parquet/.csv (filters, --as-of)
    multigate snapshots [prune ...]        list snapshots, or remove old ones
    multigate check [DATASET ...]          quality findings (a FAIL: exit 5; --verify: hashes)
    multigate report --out FILE.html       coverage report: one self-contained HTML file

Every read command finds the data folder from ``--config FILE`` (default ingest.yaml) or
``--data-dir DIR``. Commands are a table (name -> arguments, handler), so more can join.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from multigate.catalog import Catalog, CatalogError
from multigate.catalog.timebounds import ns_to_datetime, to_utc_ns
from multigate.closed_stdout import stop_quietly
from multigate.errors import ConfigError
from multigate.exit_codes import ExitCode
from multigate.storage.remote.location import RemoteDataDirError, RemoteUploadError
from multigate.storage.snapshot_records import SnapshotChainBroken
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


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def open_catalog(args: argparse.Namespace) -> Catalog:
    """The catalog the command names; an object-store data folder's working copy is
    brought up to date first, with a progress bar on a terminal."""
    from multigate.progress import RichProgress

    progress = RichProgress() if sys.stderr.isatty() else None
    if args.data_dir is not None:
        return Catalog.open(args.data_dir, progress=progress)
    return Catalog.from_config(args.config, progress=progress)


# -- ls / show ------------------------------------------------------------------------


def _no_arguments(parser: argparse.ArgumentParser) -> None:
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
                _when(info.start),
                _when(info.end),
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


def _dataset_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help='"<source>/<job>" or "<source>/<job>/<schema>"')


def run_show(args: argparse.Namespace) -> int:
    catalog = open_catalog(args)
    info = catalog.dataset(args.dataset)
    print(f"dataset      {info.name}")
    print(f"source/job   {info.source}/{info.job}")
    print(f"time column  {info.time_column}")
    print(f"range        {_when(info.start)} .. {_when(info.end)}")
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


def _read_arguments(parser: argparse.ArgumentParser) -> None:
    _dataset_argument(parser)
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
        symbols=_split(args.symbols),
        start=args.start,
        end=args.end,
        columns=_split(args.columns),
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


# -- snapshots ------------------------------------------------------------------------


def _snapshot_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", nargs="?", choices=["list", "prune"], default="list", help="default: list"
    )
    parser.add_argument("--dataset", help="list: only snapshots that changed this dataset")
    parser.add_argument("--keep", type=int, metavar="N", help="prune: keep the N newest")
    parser.add_argument("--before", metavar="DATE", help="prune: remove those made before DATE")


def run_snapshots(args: argparse.Namespace) -> int:
    catalog = open_catalog(args)
    if args.action == "prune":
        return _prune(catalog, args)
    rows = [("snapshot", "created (UTC)", "config", "datasets changed")]
    for snap in catalog.snapshots(args.dataset):
        created = f"{snap.created_at:%Y-%m-%d %H:%M:%S}"
        rows.append((snap.id, created, snap.config_hash[:12], ", ".join(snap.datasets)))
    if len(rows) == 1:
        print("no snapshots yet (each ingest run that changes a dataset records one)")
        return ExitCode.OK
    print_table(rows, sys.stdout, screen_width())
    return ExitCode.OK


def _held_for_writing(catalog: Catalog) -> AbstractContextManager[object]:
    """The data folder's lock (an object store's: its bucket lock, the working copy brought
    up to date first and uploaded after)."""
    from multigate.storage.remote.session import remote_session
    from multigate.storage.run_lock import run_lock

    if catalog.remote is not None:
        return remote_session(catalog.remote, catalog.env, exclusive=True, purpose="prune")
    return run_lock(catalog.data_dir)


def _prune(catalog: Catalog, args: argparse.Namespace) -> int:
    from multigate.storage.run_lock import RunLocked
    from multigate.storage.snapshots import prune_snapshots

    if args.keep is None and args.before is None:
        raise CatalogError("snapshots prune: say what to remove with --keep N and/or --before DATE")
    if args.keep is not None and args.keep < 0:
        raise CatalogError("--keep must be 0 or more")
    before = ns_to_datetime(to_utc_ns(args.before, "--before")) if args.before else None
    try:
        with _held_for_writing(catalog):
            removed, deleted = prune_snapshots(catalog.data_dir, keep=args.keep, before=before)
    except RunLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.LOCKED
    print(f"removed {len(removed)} snapshot(s) and {deleted} stored file(s) only they held")
    return ExitCode.OK


# -- check / report -------------------------------------------------------------------


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", nargs="*", help="datasets to check (default: all)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="the default, kept for scripts: exit 5 whenever a FAIL is printed",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also hash every raw and ingested file (and snapshot copy) against its record; "
        "exit 1 when one differs",
    )


def run_check(args: argparse.Namespace) -> int:
    """Quality findings (FAIL: exit 5; ``info`` lines never fail), then with ``--verify``
    every file's bytes against its sidecar (a mismatch: exit 1, which wins)."""
    from multigate.quality.results import run_check as report_findings

    catalog = open_catalog(args)
    names = args.dataset or [info.name for info in catalog.datasets()]
    datasets = {name: catalog.sidecars(name) for name in names}
    code = report_findings(datasets, strict=True) if datasets else ExitCode.OK
    if not datasets:
        print("no datasets to check yet (run `multigate ingest` first)")
    if args.verify:
        return _verify(catalog.data_dir) or code
    return code


def _verify(data_dir: Path) -> int:
    from multigate.storage.verify import verify_data_dir

    verified = verify_data_dir(data_dir)
    for item in verified.mismatches:
        print(f"MISMATCH {item.path}: {item.problem}")
    verdict = f"{len(verified.mismatches)} differ" if verified.mismatches else "all match"
    print(
        f"verified {verified.files:,} file(s), {verified.bytes:,} bytes, against their "
        f"records: {verdict}"
    )
    return ExitCode.JOB_FAILED if verified.mismatches else ExitCode.OK


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="FILE.html")


def run_report(args: argparse.Namespace) -> int:
    from multigate.html_report import read_databento_ledger, render_report
    from multigate.storage.atomic import write_bytes_atomic

    catalog = open_catalog(args)
    datasets = [
        (
            info.name,
            catalog.sidecars(info.name),
            [
                {
                    "id": snap.id,
                    "created_at": snap.created_at.isoformat(),
                    "config": snap.config_hash[:12],
                    "datasets": list(snap.datasets),
                }
                for snap in catalog.snapshots(info.name)
            ],
        )
        for info in catalog.datasets()
    ]
    page = render_report(datasets, read_databento_ledger(catalog.data_dir))
    try:
        write_bytes_atomic(args.out, page.encode("utf-8"))
    except OSError as exc:
        raise CannotWrite(args.out, exc) from exc
    print(f"wrote {args.out} ({len(datasets)} dataset(s))")
    return ExitCode.OK


# -- the command table ----------------------------------------------------------------

COMMANDS: dict[str, Command] = {
    "ls": Command("list datasets", _no_arguments, run_ls),
    "show": Command("describe one dataset", _dataset_argument, run_show),
    "read": Command(
        "show a dataset's rows, or write them to .parquet or .csv", _read_arguments, run_read
    ),
    "check": Command(
        "quality findings from the sidecars (exit 5 when one FAILs); --verify: file hashes",
        _check_arguments,
        run_check,
    ),
    "report": Command(
        "write the coverage report: one self-contained HTML file", _report_arguments, run_report
    ),
    "snapshots": Command(
        "list snapshots, or prune old ones (--keep N / --before DATE)",
        _snapshot_arguments,
        run_snapshots,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multigate", description="Ingest vendor market data, and read it back."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("ingest", help="run the ingest jobs (see multigate ingest --help)")
    where = argparse.ArgumentParser(add_help=False)
    group = where.add_mutually_exclusive_group()
    group.add_argument(
        "--config", type=Path, default=Path("ingest.yaml"), help="default: ingest.yaml"
    )
    group.add_argument(
        "--data-dir", help="the data folder, or an s3://bucket/prefix URL (instead of --config)"
    )
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, parents=[where])
        command.add_arguments(sub)
        sub.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["ingest"]:
        from multigate.cli import main as ingest_main

        return ingest_main(arguments[1:], prog="multigate ingest")
    args = build_parser().parse_args(arguments)
    try:
        code: int = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
    except BrokenPipeError:
        return stop_quietly()
    except (CatalogError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    except RemoteDataDirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        uploading = isinstance(exc, RemoteUploadError)
        return ExitCode.JOB_FAILED if uploading else ExitCode.CONFIG_ERROR
    except SnapshotChainBroken as exc:  # a damaged or missing snapshot record
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.JOB_FAILED
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return ExitCode.JOB_FAILED
    return code


def run() -> None:
    """Console entry point ``multigate``."""
    sys.exit(main())


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def describe_os_error(exc: OSError) -> str:
    """``/proc/x.html: cannot write: No such file or directory``, not an exception's name."""
    if isinstance(exc, CannotWrite):
        return str(exc)
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__
