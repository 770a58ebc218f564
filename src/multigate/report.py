"""What a run prints on stdout: the dry-run plan and the closing summary table."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TextIO

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table

from multigate.dispatcher import JobOutcome
from multigate.sources.base import JobStatus

_STATUS_STYLE = {
    JobStatus.OK: "green",
    JobStatus.UP_TO_DATE: "cyan",
    JobStatus.PLANNED: "cyan",
    JobStatus.SKIPPED: "dim",
    JobStatus.REFUSED: "yellow",
    JobStatus.FAILED: "bold red",
}


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Leave a closed stdout to the command (rich would exit 1 here)."""
        self.quiet = True
        raise BrokenPipeError


PIPE_WIDTH = 120
"""Width of what goes to a pipe or a file when ``COLUMNS`` does not say (a terminal: its own)."""
NOTES_INLINE_WIDTH = 110
"""Narrower than this, a summary's notes go below the table instead of in a column."""


def _console(stream: TextIO | None) -> Console:
    """A terminal's width, else ``COLUMNS``, else ``PIPE_WIDTH``."""
    console = _Console(file=stream, highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        console.width = PIPE_WIDTH
    return console


def print_plan(outcomes: Sequence[JobOutcome], stream: TextIO | None = None) -> None:
    console = _console(stream)
    total = 0.0
    unknown_cost = False
    unplanned = 0
    for outcome in outcomes:
        head = f"{outcome.source}/{outcome.job} ({outcome.mode})"
        plan = outcome.plan
        if plan is None:
            if outcome.status in (JobStatus.FAILED, JobStatus.REFUSED):
                unplanned += 1  # its quote (or plan) failed: its cost is not in the total
                style = _STATUS_STYLE[outcome.status]
                console.print(f"[{style}]{head}: {outcome.status} — {'; '.join(outcome.notes)}")
                continue
            console.print(f"[dim]{head}: {outcome.status} — {'; '.join(outcome.notes)}[/dim]")
            continue
        cost = "unknown" if plan.cost_usd is None else f"${plan.cost_usd:,.4f}"
        console.print(f"[bold]{head}[/bold]: estimated cost {cost}")
        if plan.cost_usd is None:
            unknown_cost = True
        else:
            total += plan.cost_usd
        for label, items in (
            ("read", plan.reads),
            ("download", plan.downloads),
            ("write", plan.writes),
            ("current", plan.current),
            ("note", plan.notes),
        ):
            for item in items:
                console.print(f"  {label:<8} {item}")
    suffix = " (plus jobs whose cost is unknown)" if unknown_cost else ""
    if unplanned:
        suffix += (
            f" — INCOMPLETE: {unplanned} job(s) could not be planned or quoted (see above), "
            "so their cost is not included"
        )
    console.print(f"Total estimated cost: ${total:,.4f}{suffix}. Dry run: nothing was written.")


def print_summary(outcomes: Sequence[JobOutcome], stream: TextIO | None = None) -> None:
    console = _console(stream)
    inline = console.width >= NOTES_INLINE_WIDTH
    # narrow: source/job in one column, no vertical rules, notes below the table
    table = Table(
        title="multigate ingest summary",
        title_justify="left",
        box=box.HEAVY_HEAD if inline else box.SIMPLE_HEAD,
        pad_edge=inline,
        collapse_padding=not inline,
    )
    columns: list[tuple[str, JustifyMethod]] = [
        *((("source", "left"), ("job", "left")) if inline else (("source/job", "left"),)),
        ("mode", "left"),
        ("status", "left"),
        ("rows", "right"),
        ("new", "right"),  # files written by this run
        ("kept", "right"),  # files already current, left untouched
        ("time", "right"),
    ]
    if inline:
        columns.append(("notes", "left"))
    for column, justify in columns:
        table.add_column(
            column,
            justify=justify,
            no_wrap=column != "notes",
            ratio=1 if column == "notes" else None,
            min_width=24 if column == "notes" else None,
        )
    for outcome in outcomes:
        cells = [
            *((outcome.source, outcome.job) if inline else (f"{outcome.source}/{outcome.job}",)),
            outcome.mode,
            f"[{_STATUS_STYLE[outcome.status]}]{outcome.status}[/]",
            f"{outcome.rows:,}",
            str(outcome.files_written),
            str(outcome.files_current),
            f"{outcome.seconds:.1f}s",
        ]
        table.add_row(*cells, *(["; ".join(outcome.notes)] if inline else []))
    console.print(table)
    if not inline:  # a narrow terminal: each job's notes below, wrapped to its width
        for outcome in outcomes:
            if outcome.notes:
                console.print(f"{outcome.source}/{outcome.job}: {'; '.join(outcome.notes)}")
