"""Cost guardrails for paid downloads: print the estimate, enforce the hard cap, confirm.

Called with the vendor's estimate for exactly what is about to be downloaded, before any
billable request. A refusal raises GuardrailRefused; nothing has been spent.
"""

from __future__ import annotations

from multigate.config.models import CostGuardrails
from multigate.context import RunContext
from multigate.errors import GuardrailRefused

YES = frozenset({"y", "yes"})


def approve_cost(
    job: str, estimate_usd: float, rails: CostGuardrails, ctx: RunContext, *, what: str
) -> None:
    """Allow the download of ``what`` costing ``estimate_usd``, or raise GuardrailRefused.

    Order: print (``print_cost``), then the cap (``max_cost_usd``, never overridden), then
    the confirmation (``require_confirm``: a terminal prompt, or ``--yes``). Nothing to pay
    needs no confirmation.
    """
    if rails.print_cost:
        ctx.notify(f"{job}: estimated cost ${estimate_usd:,.4f} for {what}")
    if rails.max_cost_usd is not None and estimate_usd > rails.max_cost_usd:
        raise GuardrailRefused(
            f"estimated cost ${estimate_usd:,.4f} is over max_cost_usd "
            f"${rails.max_cost_usd:,.4f}; nothing was downloaded"
        )
    if not rails.require_confirm or estimate_usd <= 0 or ctx.assume_yes:
        return
    if not ctx.interactive:
        raise GuardrailRefused(
            f"require_confirm is set and there is no terminal to ask: re-run with --yes to "
            f"accept ${estimate_usd:,.4f}; nothing was downloaded"
        )
    try:
        answer = ctx.prompt(f"{job}: download {what} for ${estimate_usd:,.4f}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in YES:
        raise GuardrailRefused("not confirmed; nothing was downloaded")
