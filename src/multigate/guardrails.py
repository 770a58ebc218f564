"""Cost guardrails for paid downloads: print the estimate, enforce the caps, confirm.

Called with the vendor's estimate for exactly what is about to be downloaded, before any
billable request. A refusal raises GuardrailRefused; nothing has been spent.

A quote that is not a finite number >= 0 (NaN, an infinity, a negative number, null, a
string, a list, an empty or non-JSON answer) is a *cost unknown*: no cap can be checked
and no amount can be confirmed against it, so it is refused whenever ``max_cost_usd``,
``budget_usd`` or ``require_confirm`` applies (``--yes`` does not accept an unknown
amount). With none of them set the run says the cost is unknown and goes on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from multigate.config.models import CostGuardrails
from multigate.context import RunContext
from multigate.errors import GuardrailRefused

YES = frozenset({"y", "yes"})
_NOT_REQUEST = frozenset(
    {"at", "event", "usd", "attempt", "billable", "reason", "settles_lines", "note"}
)
"""Ledger fields that are not part of the request an attempt made."""


def parse_quote(value: object) -> float | None:
    """The vendor's quote as USD, or None (cost unknown) unless it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        usd = float(value)
    except OverflowError:  # an integer too large for a float (hundreds of digits)
        return None
    if not math.isfinite(usd) or usd < 0:
        return None
    return usd + 0.0  # -0.0 -> 0.0


def describe_quote(value: object) -> str:
    """A short, printable form of a vendor answer that was not a price."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Spend:
    """What a job's ledger shows it has been billed so far, for ``budget_usd``."""

    billed_usd: float
    """Every attempt that may have been billed, at its quoted price, plus adjustments."""
    unpriced_attempts: int = 0
    """Attempts recorded without a price (their quote was unknown), not yet settled."""
    unpriced_lines: tuple[int, ...] = ()
    """Their ledger line numbers (1-based), when the lines were known."""
    ledger: str = ""
    """The ledger file the lines are in, when known."""

    def remaining(self, budget_usd: float) -> float:
        return max(budget_usd - self.billed_usd, 0.0)

    def unpriced_where(self) -> str:
        """Where the unpriced attempts are, and how to settle them."""
        where = self.ledger or "the ledger"
        if self.unpriced_lines:
            where += f" line(s) {', '.join(map(str, self.unpriced_lines))}"
        lines = ", ".join(map(str, self.unpriced_lines)) or "N"
        return (
            f"at {where}. Settle them with the price the vendor billed (see its portal) by "
            f'appending the line {{"event": "adjustment", "job": "JOB", "usd": PRICE, '
            f'"settles_lines": [{lines}]}} to the ledger (see README, budget_usd)'
        )


def spend_from_ledger(
    records: Iterable[Mapping[str, Any]],
    job: str,
    *,
    lines: Sequence[int] | None = None,
    ledger: str = "",
) -> Spend:
    """What ``job`` has been billed, from its ledger records: every ``attempt`` at its quoted
    price, less the attempts that ended in an error status (``attempt_failed`` with
    ``billable: false``), which the vendor does not bill. An attempt with no outcome (a run
    killed during it) counts: it may have been billed. An ``adjustment`` line adds its
    ``usd`` (a price) and settles the unpriced attempts at its ``settles_lines``. ``lines``
    gives each record's line number in the file ``ledger`` (default: its position)."""
    billed = 0.0
    unpriced: set[int] = set()
    open_attempts: dict[tuple[tuple[str, str], ...], list[tuple[float | None, int]]] = {}
    numbers = list(lines) if lines is not None else None
    for index, record in enumerate(records):
        line = numbers[index] if numbers is not None else index + 1
        if record.get("job") != job:
            continue
        key = tuple(sorted((k, str(v)) for k, v in record.items() if k not in _NOT_REQUEST))
        event = record.get("event")
        if event == "attempt":
            usd = parse_quote(record.get("usd"))
            open_attempts.setdefault(key, []).append((usd, line))
            if usd is None:
                unpriced.add(line)
            else:
                billed += usd
        elif event == "attempt_failed" and record.get("billable") is False:
            pending = open_attempts.get(key)
            if pending:
                usd, at = pending.pop()
                if usd is None:
                    unpriced.discard(at)
                else:
                    billed -= usd
        elif event == "adjustment":
            usd = parse_quote(record.get("usd"))
            if usd is None:  # an adjustment without a price settles nothing
                unpriced.add(line)
                continue
            billed += usd
            settles = record.get("settles_lines")
            for settled in settles if isinstance(settles, list) else []:
                if isinstance(settled, int):
                    unpriced.discard(settled)
    return Spend(max(billed, 0.0), len(unpriced), tuple(sorted(unpriced)), ledger)


def budget_note(budget_usd: float, spent: Spend, estimate_usd: float | None) -> str:
    """One line for the dry run: spent so far, what is left, and whether a run would go."""
    note = (
        f"budget_usd ${budget_usd:,.4f}: ${spent.billed_usd:,.4f} already billed to this job, "
        f"${spent.remaining(budget_usd):,.4f} left"
    )
    if spent.unpriced_attempts:
        return note + (
            f"; {spent.unpriced_attempts} earlier attempt(s) at an unknown price "
            f"{spent.unpriced_where()}: a run would be refused"
        )
    if estimate_usd is None:
        return note + "; the estimate is unknown: a run would be refused"
    if spent.billed_usd + estimate_usd > budget_usd + 1e-9:
        return note + f"; ${estimate_usd:,.4f} more is over it: a run would be refused"
    return note


def approve_cost(
    job: str,
    estimate_usd: float | None,
    rails: CostGuardrails,
    ctx: RunContext,
    *,
    what: str,
    spent: Spend | None = None,
) -> None:
    """Allow the download of ``what`` costing ``estimate_usd``, or raise GuardrailRefused.

    ``estimate_usd`` None is a cost unknown. ``spent`` is what the job's ledger shows it has
    already been billed (needed when ``budget_usd`` is set). Order: print (``print_cost``),
    then the caps (``max_cost_usd`` for this run, ``budget_usd`` for the job's lifetime,
    never overridden), then the confirmation (``require_confirm``: a terminal prompt, or
    ``--yes``). Nothing to pay needs no confirmation.
    """
    if estimate_usd is None:
        _refuse_unknown(job, rails, ctx, what=what)
        return
    if rails.print_cost:
        ctx.notify(f"{job}: estimated cost ${estimate_usd:,.4f} for {what}")
    if rails.max_cost_usd is not None and estimate_usd > rails.max_cost_usd:
        raise GuardrailRefused(
            f"estimated cost ${estimate_usd:,.4f} is over max_cost_usd "
            f"${rails.max_cost_usd:,.4f}; nothing was downloaded"
        )
    if rails.budget_usd is not None:
        check_budget(estimate_usd, rails.budget_usd, spent or Spend(0.0))
    if not rails.require_confirm or estimate_usd <= 0 or ctx.assume_yes:
        return
    _ask(
        ctx,
        f"{job}: download {what} for ${estimate_usd:,.4f}? [y/N] ",
        accept=f"accept ${estimate_usd:,.4f}",
        nothing="nothing was downloaded",
    )


def confirm_unpriced(job: str, require_confirm: bool, ctx: RunContext, *, what: str) -> None:
    """Allow a request the vendor gives no quote for (reference data), or raise
    GuardrailRefused: with ``require_confirm``, ask on a terminal (or accept ``--yes``)."""
    if not require_confirm or ctx.assume_yes:
        return
    _ask(
        ctx,
        f"{job}: request {what} (no quote is given for it)? [y/N] ",
        accept=f"request {what} (no quote is given for it)",
        nothing="nothing was requested",
    )


def _ask(ctx: RunContext, question: str, *, accept: str, nothing: str) -> None:
    """Ask ``question`` on the terminal; anything but yes (or no terminal) refuses."""
    if not ctx.interactive:
        raise GuardrailRefused(
            f"require_confirm is set and there is no terminal to ask: re-run with --yes to "
            f"{accept}; {nothing}"
        )
    try:
        answer = ctx.prompt(question)
    except EOFError:
        answer = ""
    if answer.strip().lower() not in YES:
        raise GuardrailRefused(f"not confirmed; {nothing}")


def check_budget(estimate_usd: float, budget_usd: float, spent: Spend) -> None:
    """Refuse unless what the job was billed so far plus ``estimate_usd`` fits ``budget_usd``."""
    if spent.unpriced_attempts:
        raise GuardrailRefused(
            f"the ledger holds {spent.unpriced_attempts} attempt(s) of this job at an unknown "
            f"price, so budget_usd ${budget_usd:,.4f} cannot be checked; nothing was "
            f"downloaded. They are {spent.unpriced_where()}"
        )
    if spent.billed_usd + estimate_usd > budget_usd + 1e-9:
        raise GuardrailRefused(
            f"estimated cost ${estimate_usd:,.4f} plus ${spent.billed_usd:,.4f} already billed "
            f"to this job is over budget_usd ${budget_usd:,.4f} "
            f"(${spent.remaining(budget_usd):,.4f} left); nothing was downloaded"
        )


def _refuse_unknown(job: str, rails: CostGuardrails, ctx: RunContext, *, what: str) -> None:
    applies = [
        name
        for name, on in (
            ("max_cost_usd", rails.max_cost_usd is not None),
            ("budget_usd", rails.budget_usd is not None),
            ("require_confirm", rails.require_confirm),
        )
        if on
    ]
    if applies:
        raise GuardrailRefused(
            f"cost unknown: the vendor's quote for {what} was not a price, so "
            f"{' and '.join(applies)} cannot be checked; nothing was downloaded"
        )
    ctx.notify(
        f"{job}: estimated cost unknown for {what} (the vendor's quote was not a price); "
        "no max_cost_usd, budget_usd or require_confirm is set, so the download goes on"
    )
