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
from pathlib import Path

from multigate.catalog import Catalog, CatalogError
from multigate.catalog.errors import DamagedTable
from multigate.catalog.timebounds import ns_to_datetime, to_utc_ns
from multigate.closed_stdout import stop_quietly
from multigate.console_reads import (
    CannotWrite,
    dataset_argument,
    describe_os_error,
    no_arguments,
    open_catalog,
    read_arguments,
    run_ls,
    run_read,
    run_show,
)
from multigate.errors import ConfigError
from multigate.exit_codes import ExitCode
from multigate.stop import Terminated
from multigate.storage.remote.location import RemoteDataDirError, RemoteUploadError
from multigate.storage.table_paths import is_data_folder
from multigate.terminal_view import print_table, screen_width


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


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
    from multigate.storage.delta_prune import prune_runs
    from multigate.storage.run_lock import RunLocked

    if args.keep is None and args.before is None:
        raise CatalogError("snapshots prune: say what to remove with --keep N and/or --before DATE")
    if args.keep is not None and args.keep < 0:
        raise CatalogError("--keep must be 0 or more")
    before = ns_to_datetime(to_utc_ns(args.before, "--before")) if args.before else None
    if catalog.remote is None and not is_data_folder(catalog.data_dir):
        raise CatalogError(  # its lock file would be the first thing written there
            f"{catalog.data_dir} is not a data folder (it holds no ingested/ or raw/): "
            "nothing to prune"
        )
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
    page = render_report(
        datasets, read_databento_ledger(catalog.data_dir), data_dir=catalog.data_dir
    )
    try:
        write_bytes_atomic(args.out, page.encode("utf-8"))
    except OSError as exc:
        raise CannotWrite(args.out, exc) from exc
    print(f"wrote {args.out} ({len(datasets)} dataset(s))")
    return ExitCode.OK


# -- the command table ----------------------------------------------------------------

COMMANDS: dict[str, Command] = {
    "ls": Command("list datasets", no_arguments, run_ls),
    "show": Command("describe one dataset", dataset_argument, run_show),
    "read": Command(
        "show a dataset's rows, or write them to .parquet or .csv", read_arguments, run_read
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


EXIT_STATUS = """\
exit status (multigate ingest: see its --help):
  0    done; check: no FAIL (info lines never fail)
  1    a file could not be read or written; check --verify: a file differs from its record
  2    the command line or the config is invalid, or names what does not exist
  4    snapshots prune: a run is using the data folder
  5    check: a quality check printed FAIL (rows are kept)
  130  interrupted (Ctrl-C); 141 standard output closed early; 143 terminated (SIGTERM)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multigate",
        description="Ingest vendor market data, and read it back.",
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    except DamagedTable as exc:  # a table's log or files cannot be read
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.JOB_FAILED
    except (CatalogError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    except RemoteDataDirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        uploading = isinstance(exc, RemoteUploadError)
        return ExitCode.JOB_FAILED if uploading else ExitCode.CONFIG_ERROR
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return ExitCode.JOB_FAILED
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM through multigate.entry
        stopped = isinstance(exc, Terminated)
        print(f"{'terminated' if stopped else 'interrupted'}: stopped", file=sys.stderr)
        return ExitCode.TERMINATED if stopped else ExitCode.INTERRUPTED
    return code


def run() -> None:
    """Console entry point ``multigate`` of earlier installs (now ``multigate.entry``)."""
    from multigate.entry import run_console

    run_console()
