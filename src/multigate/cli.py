"""``python -m scripts.ingest``: read ingest.yaml and run every enabled job.

The only place that catches errors broadly, configures logging and picks the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from multigate.closed_stdout import stop_quietly
from multigate.config.loader import LoadedConfig, load_config
from multigate.config.models import scheduler_address
from multigate.context import RunContext
from multigate.dispatcher import (
    JobOutcome,
    SelectedJob,
    open_sources,
    preflight,
    run_selected,
    select_jobs,
)
from multigate.engine.choose import make_executor
from multigate.env import RedactSecrets, load_environment, redact, secret_values
from multigate.errors import ConfigError, IngestError
from multigate.exit_codes import ExitCode
from multigate.progress import NullProgress, Progress, RichProgress
from multigate.quality.job_outputs import jobs_datasets
from multigate.quality.results import run_check
from multigate.report import print_plan, print_summary
from multigate.sources.base import JobStatus
from multigate.sources.registry import convert_modules
from multigate.stop import Terminated, raise_if_stopped, stop_on_signals
from multigate.storage.atomic import sweep_temp_files
from multigate.storage.data_dir import data_dir_problem
from multigate.storage.layout import ingested_root, raw_root
from multigate.storage.remote.location import RemoteDataDirError, RemoteUploadError
from multigate.storage.remote.session import remote_session
from multigate.storage.run_lock import RunLocked, held_elsewhere, run_lock

log = logging.getLogger("multigate")

EPILOG = """\
A job runs only when its source has 'enabled: true' and the job's 'mode' equals the
source's 'mode'; every skip is shown with its reason.

exit status:
  0    every selected job succeeded or was already up to date
  1    at least one job failed
  2    the config or the command line is invalid (nothing ran)
  3    a cost guardrail refused or stopped a job (the summary says what was spent);
       1 wins if a job also failed
  4    another run is using the same data folder (nothing ran)
  5    --strict: a quality check failed (every row was kept); 1 and 3 win
  130  interrupted (Ctrl-C)
  141  standard output closed early (e.g. | head): a quiet stop, as for SIGPIPE
  143  terminated (SIGTERM), stopped as Ctrl-C stops a run

API keys are read from the environment, or from .env beside the config
(real environment variables win): DATABENTO_API_KEY, APCA_API_KEY_ID, APCA_API_SECRET_KEY.
"""


PROG = "python -m scripts.ingest"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command line of a run; ``prog``: how the user called it (for usage lines)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Turn vendor market data into clean, reproducible Parquet.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("ingest.yaml"),
        help="config file (default: ingest.yaml in the current folder)",
    )
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="only jobs of this source (repeatable)",
    )
    parser.add_argument(
        "--job", action="append", default=[], metavar="NAME", help="only this job (repeatable)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print each job's plan and cost estimate; write and download nothing",
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="answer confirmations with yes (never overrides max_cost_usd)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="convert again even when outputs are up to date (stored downloads are kept)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="read keys from this file instead of .env beside the config",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="convert N files at once (default: the number of cores; 1: one after another)",
    )
    parser.add_argument(
        "--executor",
        choices=("local", "dask"),
        default=None,
        help="where conversions run: local processes, or a Dask cluster (needs multigate[dask])",
    )
    parser.add_argument(
        "--scheduler",
        type=_scheduler_flag,
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler, e.g. tcp://HOST:8786; implies --executor dask, checked at start "
        "(without it, --executor dask starts a local Dask cluster)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 5 when a quality check fails on the selected jobs' outputs (rows are kept)",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="show each file written (-vv: also HTTP details)",
    )
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings, errors and the summary"
    )
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _scheduler_flag(text: str) -> str:
    try:
        return scheduler_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def configure_logging(verbose: int, quiet: bool, secrets: Sequence[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)-7s %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    log.setLevel(level)


def exit_code_for(outcomes: Sequence[JobOutcome]) -> ExitCode:
    statuses = {outcome.status for outcome in outcomes}
    if JobStatus.FAILED in statuses:
        return ExitCode.JOB_FAILED
    if JobStatus.REFUSED in statuses:
        return ExitCode.GUARDRAIL_REFUSED
    return ExitCode.OK


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the command; Ctrl-C in any phase exits 130 with one line, never a traceback
    (SIGTERM: 143)."""
    try:
        code = _main(argv, prog)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
        return code
    except BrokenPipeError:
        return stop_quietly()
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"{what}: nothing more was done", file=sys.stderr)
        return ExitCode.TERMINATED if isinstance(exc, Terminated) else ExitCode.INTERRUPTED


def _main(argv: Sequence[str] | None, prog: str) -> int:
    args = build_parser(prog).parse_args(argv)
    secrets: list[str] = []
    try:
        loaded = load_config(args.config)
        env_file = args.env_file or loaded.base_dir / ".env"
        env = load_environment(env_file, required=args.env_file is not None)
        secrets = secret_values(env)
        configure_logging(args.verbose, args.quiet, secrets)
        selected = select_jobs(loaded, args.source, args.job)
        if any(not item.skip_reason for item in selected):
            check_data_dir(loaded, writable=not args.dry_run)
        ctx = _run_context(args, loaded, env)
        if ctx.executor is not None and not args.dry_run:
            # a process pool's forkserver imports what its workers need meanwhile
            running = {item.source for item in selected if not item.skip_reason}
            ctx.executor.prepare(convert_modules(running))
        sources = open_sources(loaded, selected, ctx)
        preflight(selected, sources, loaded)
    except ConfigError as exc:
        print(f"error: {redact(str(exc), secrets)}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR

    try:
        runnable = any(not item.skip_reason for item in selected)
        exclusive = runnable and not args.dry_run
        with (
            stop_on_signals(),
            data_folder_session(
                loaded,
                env,
                exclusive=exclusive,
                needed=runnable,
                selected=selected,
                progress=ctx.progress,
            ) as upload,
        ):
            if exclusive:
                swept = sweep_temp_files(loaded.data_dir)
                if swept:
                    log.info("removed %d temporary file(s) left by an interrupted run", swept)
            try:
                outcomes = run_selected(selected, sources, dry_run=args.dry_run, after_job=upload)
            finally:
                if ctx.executor is not None:
                    ctx.executor.close()
            raise_if_stopped()  # a stop whose exception some library swallowed
    except RunLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.LOCKED
    except RemoteDataDirError as exc:  # unreachable before the run, or its upload failed
        print(f"error: {redact(str(exc), secrets)}", file=sys.stderr)
        uploading = isinstance(exc, RemoteUploadError)
        return ExitCode.JOB_FAILED if uploading else ExitCode.CONFIG_ERROR
    except OSError as exc:  # the data folder failed under the run (unmounted, made read-only)
        print(f"error: {redact(str(exc), secrets)}", file=sys.stderr)
        return ExitCode.JOB_FAILED
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(
            f"{what}: finished files and received downloads are kept; run again to resume",
            file=sys.stderr,
        )
        return ExitCode.TERMINATED if isinstance(exc, Terminated) else ExitCode.INTERRUPTED
    for outcome in outcomes:
        outcome.notes = [redact(note, secrets) for note in outcome.notes]
    if not selected:
        log.warning("no jobs selected in %s", loaded.path)
    if args.dry_run:
        print_plan(outcomes)
        held = lock_holder_note(loaded, env) if runnable else None
        if held:
            print(held)
    else:
        print_summary(outcomes)
    code = exit_code_for(outcomes)
    if args.strict and not args.dry_run and code == ExitCode.OK:
        return strict_quality(loaded.data_dir, outcomes)
    return code


def data_folder_session(
    loaded: LoadedConfig,
    env: Mapping[str, str],
    *,
    exclusive: bool,
    needed: bool,
    selected: Sequence[SelectedJob] = (),
    progress: Progress | None = None,
) -> contextlib.AbstractContextManager[Callable[[], None] | None]:
    """The data folder held for the run: a local one locked (``exclusive``); an
    object-store one locked in its bucket, its working copy brought up to date before and
    uploaded after each job and at the end (or, for a dry run, only brought up to date).
    Yields what uploads the work done so far (None: nothing to upload)."""
    remote = loaded.remote
    if remote is not None and needed:
        return remote_session(
            remote, env, exclusive=exclusive, progress=progress, only=run_folders(selected)
        )
    return run_lock(loaded.data_dir) if exclusive else contextlib.nullcontext()


def run_folders(selected: Sequence[SelectedJob]) -> tuple[str, ...]:
    """What a run of ``selected`` reads in its data folder (relative to it): the raw files
    of their sources (shared by a source's jobs, with its ledger) and their jobs' outputs
    with their tables. An object-store data folder's copy fetches only these."""
    folders = set()
    for item in selected:
        if not item.skip_reason:
            folders.add(f"{raw_root(Path(), item.source).as_posix()}/")
            folders.add(f"{ingested_root(Path(), item.source, item.job.name).as_posix()}/")
    return tuple(sorted(folders))


def lock_holder_note(loaded: LoadedConfig, env: Mapping[str, str]) -> str | None:
    """A dry run takes no lock, so it says when a run holds one: that run may buy or
    write what this plan lists first, and a real run now would exit 4."""
    remote = loaded.remote
    if remote is None:
        who = "another run" if held_elsewhere(loaded.data_dir) else None
        where = str(loaded.data_dir)
    else:
        from multigate.storage.remote.filesystem import open_filesystem
        from multigate.storage.remote.object_lock import lock_holder

        try:
            who = lock_holder(open_filesystem(remote, env), remote)
        except (IngestError, OSError, ValueError):
            return None
        where = remote.url
    if who is None:
        return None
    return (
        f"note: {where} is locked by {who}: this plan is the folder as it was before "
        "that run ends (it may buy or write some of it first); a real run now exits 4"
    )


def strict_quality(data_dir: Path, outcomes: Sequence[JobOutcome]) -> ExitCode:
    """``--strict``: the quality findings of every job that ran (or was up to date)."""
    done = (JobStatus.OK, JobStatus.UP_TO_DATE)
    jobs = [(item.source, item.job) for item in outcomes if item.status in done]
    return ExitCode(run_check(jobs_datasets(data_dir, jobs), strict=True, out=sys.stderr))


def check_data_dir(loaded: LoadedConfig, *, writable: bool) -> None:
    """Raise ConfigError (file, line, key) when the data folder cannot be used."""
    problem = data_dir_problem(loaded.data_dir, writable=writable)
    if problem:
        line = loaded.data_dir_line
        where = f"{loaded.path}:{line}" if line else str(loaded.path)
        remote = loaded.remote
        shown = (
            repr(str(loaded.data_dir))
            if remote is None
            else f"{remote.url!r} (its working copy {str(remote.cache_dir)!r})"
        )
        raise ConfigError(f"{where}: data_dir: {shown} cannot be used: {problem}")


def _run_context(args: argparse.Namespace, loaded: LoadedConfig, env: dict[str, str]) -> RunContext:
    interactive = sys.stdin.isatty()
    progress: Progress = (
        RichProgress() if sys.stderr.isatty() and not args.quiet else NullProgress()
    )
    settings = loaded.config.engine.model_copy(
        update={
            key: value
            for key, value in (
                ("workers", args.workers),
                ("executor", args.executor),
                ("scheduler", args.scheduler),
            )
            if value is not None
        }
    )
    if settings.scheduler is not None and args.executor is None and args.scheduler:
        settings = settings.model_copy(update={"executor": "dask"})
    return RunContext(
        data_dir=loaded.data_dir,
        base_dir=loaded.base_dir,
        env=env,
        force=args.force,
        assume_yes=args.yes,
        dry_run=args.dry_run,
        interactive=interactive,
        prompt=ask_on_terminal,
        progress=progress,
        executor=make_executor(settings, loaded.data_dir, remote=loaded.remote, env=env),
    )


def ask_on_terminal(question: str) -> str:
    """Ask on stderr (stdout may be redirected) and read one line from stdin."""
    print(question, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError("no answer (end of input)")
    return line


def run() -> None:
    """Console entry point, kept for existing installs: see ``multigate.entry.run``."""
    from multigate.entry import run as run_entry

    run_entry()
