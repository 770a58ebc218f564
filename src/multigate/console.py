"""``multigate``: one command for ingesting and for reading what was ingested.

::

    multigate ingest [...]                 the same as python -m scripts.ingest [...]
    multigate ls                           datasets with rows, files, time range, snapshot
    multigate show DATASET                 one dataset: columns, symbols, snapshots
    multigate read DATASET --out FILE      rows to .parquet or .csv (filters, --as-of)
    multigate snapshots [prune ...]        list snapshots, or remove old ones
    multigate check [DATASET ...]          quality findings (--strict: exit 5 on a failure)
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
    rows = [("dataset", "time", "rows", "files", "symbols", "start", "end", "snapshot")]
    for info in open_catalog(args).datasets():
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
            )
        )
    if len(rows) == 1:
        print("no datasets yet (run `multigate ingest` first)")
        return ExitCode.OK
    _print_table(rows)
    return ExitCode.OK


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
    print("columns")
    for field in catalog.schema(args.dataset):
        print(f"  {field.name:<24} {field.type}")
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
    parser.add_argument("--out", type=Path, required=True, help="FILE.parquet or FILE.csv")


def run_read(args: argparse.Namespace) -> int:
    from multigate.catalog.export import write_batches

    suffix = args.out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise CatalogError(f"--out {args.out}: the name must end in .parquet or .csv")
    reader = open_catalog(args).scan(
        args.dataset,
        symbols=_split(args.symbols),
        start=args.start,
        end=args.end,
        columns=_split(args.columns),
        as_of=args.as_of,
    )
    rows = write_batches(reader, args.out)
    print(f"wrote {rows:,} rows to {args.out}")
    return ExitCode.OK


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
    _print_table(rows)
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
    from multigate.storage.delta_prune import prune_runs
    from multigate.storage.run_lock import RunLocked

    if args.keep is None and args.before is None:
        raise CatalogError("snapshots prune: say what to remove with --keep N and/or --before DATE")
    if args.keep is not None and args.keep < 0:
        raise CatalogError("--keep must be 0 or more")
    before = ns_to_datetime(to_utc_ns(args.before, "--before")) if args.before else None
    try:
        with _held_for_writing(catalog):
            removed, deleted = prune_runs(catalog.data_dir, keep=args.keep, before=before)
    except RunLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.LOCKED
    print(f"removed {len(removed)} snapshot(s) and {deleted} stored file(s) only they held")
    return ExitCode.OK


# -- check / report -------------------------------------------------------------------


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", nargs="*", help="datasets to check (default: all)")
    parser.add_argument(
        "--strict", action="store_true", help="exit 5 when a quality check fails (rows are kept)"
    )


def run_check(args: argparse.Namespace) -> int:
    from multigate.quality.results import run_check as report_findings

    catalog = open_catalog(args)
    names = args.dataset or [info.name for info in catalog.datasets()]
    datasets = {name: catalog.sidecars(name) for name in names}
    return report_findings(datasets, strict=args.strict)


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
    page = render_report(
        datasets, read_databento_ledger(catalog.data_dir), data_dir=catalog.data_dir
    )
    write_bytes_atomic(args.out, page.encode("utf-8"))
    print(f"wrote {args.out} ({len(datasets)} dataset(s))")
    return ExitCode.OK


# -- the command table ----------------------------------------------------------------

COMMANDS: dict[str, Command] = {
    "ls": Command("list datasets", _no_arguments, run_ls),
    "show": Command("describe one dataset", _dataset_argument, run_show),
    "read": Command("write a dataset's rows to .parquet or .csv", _read_arguments, run_read),
    "check": Command(
        "quality findings from the sidecars (--strict: exit 5 when a check fails)",
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

        return ingest_main(arguments[1:])
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
    except OSError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
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


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
