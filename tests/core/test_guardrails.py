"""Cost guardrails: print, hard cap (even with --yes), confirmation on a terminal or --yes."""

from __future__ import annotations

from pathlib import Path

import pytest

from multigate.config.models import CostGuardrails
from multigate.context import RunContext
from multigate.errors import GuardrailRefused
from multigate.guardrails import approve_cost


def context(
    *, yes: bool = False, interactive: bool = False, answer: str = ""
) -> tuple[RunContext, list[str], list[str]]:
    said: list[str] = []
    asked: list[str] = []

    def prompt(question: str) -> str:
        asked.append(question)
        return answer

    ctx = RunContext(
        data_dir=Path("data"),
        base_dir=Path("."),
        assume_yes=yes,
        interactive=interactive,
        prompt=prompt,
        notify=said.append,
    )
    return ctx, said, asked


def test_prints_the_estimate():
    ctx, said, _ = context(yes=True)
    approve_cost("job", 1.25, CostGuardrails(), ctx, what="3 chunks")
    assert said == ["job: estimated cost $1.2500 for 3 chunks"]


def test_cap_refuses_even_with_yes():
    ctx, _, asked = context(yes=True, interactive=True, answer="y")
    with pytest.raises(GuardrailRefused, match="over max_cost_usd"):
        approve_cost("job", 5.01, CostGuardrails(max_cost_usd=5.0), ctx, what="x")
    assert asked == []


def test_at_the_cap_is_allowed():
    """The cap is inclusive: an estimate of exactly max_cost_usd passes it and goes on to
    the confirmation (answered yes), where one a cent over stops before any question."""
    ctx, said, asked = context(interactive=True, answer="y")
    approve_cost("job", 5.0, CostGuardrails(max_cost_usd=5.0), ctx, what="x")
    assert said == ["job: estimated cost $5.0000 for x"]
    assert len(asked) == 1 and "$5.0000" in asked[0]


def test_no_terminal_and_no_yes_refuses():
    ctx, _, asked = context()
    with pytest.raises(GuardrailRefused, match="--yes"):
        approve_cost("job", 0.5, CostGuardrails(), ctx, what="x")
    assert asked == []


@pytest.mark.parametrize(
    ("answer", "allowed"), [("y", True), ("YES", True), ("", False), ("n", False), ("sure", False)]
)
def test_terminal_prompt_needs_y(answer, allowed):
    ctx, _, asked = context(interactive=True, answer=answer)
    rails = CostGuardrails()
    if allowed:
        approve_cost("job", 0.5, rails, ctx, what="x")
    else:
        with pytest.raises(GuardrailRefused, match="not confirmed"):
            approve_cost("job", 0.5, rails, ctx, what="x")
    assert len(asked) == 1 and "$0.5000" in asked[0]


def test_nothing_to_pay_needs_no_confirmation():
    ctx, _, asked = context()
    approve_cost("job", 0.0, CostGuardrails(), ctx, what="x")
    assert asked == []


def test_confirmation_off_and_print_off():
    ctx, said, asked = context()
    approve_cost("job", 3.0, CostGuardrails(print_cost=False, require_confirm=False), ctx, what="x")
    assert said == [] and asked == []


def test_end_of_input_at_the_prompt_refuses():
    said: list[str] = []

    def closed_stdin(question: str) -> str:
        raise EOFError

    ctx = RunContext(
        data_dir=Path("data"),
        base_dir=Path("."),
        interactive=True,
        prompt=closed_stdin,
        notify=said.append,
    )
    with pytest.raises(GuardrailRefused, match="not confirmed"):
        approve_cost("job", 0.5, CostGuardrails(), ctx, what="x")


def test_spend_counts_possibly_billed_attempts_of_the_job_only():
    from multigate.guardrails import spend_from_ledger

    request = {"dataset": "D", "schema": "trades", "symbols": "A", "start": "s", "end": "e"}
    other = {**request, "symbols": "B"}
    records = [
        {"event": "estimate", "job": "j", "usd": 9.0, **request},
        {"event": "attempt", "job": "j", "attempt": 1, "usd": 1.0, **request},
        {"event": "attempt_failed", "job": "j", "billable": False, **request},  # free: 503
        {"event": "attempt", "job": "j", "attempt": 2, "usd": 1.0, **request},
        {"event": "attempt_failed", "job": "j", "billable": True, **request},  # cut stream
        {"event": "attempt", "job": "j", "attempt": 3, "usd": 1.0, **request},  # killed
        {"event": "attempt", "job": "j", "attempt": 1, "usd": 0.5, **other},
        {"event": "download", "job": "j", **other},
        {"event": "attempt", "job": "other-job", "attempt": 1, "usd": 7.0, **request},
    ]
    spend = spend_from_ledger(records, "j")
    assert spend.billed_usd == pytest.approx(2.5) and spend.unpriced_attempts == 0
    assert spend.remaining(3.0) == pytest.approx(0.5)


def test_budget_refuses_what_would_pass_it_even_with_yes():
    from multigate.guardrails import Spend

    ctx, _, asked = context(yes=True)
    rails = CostGuardrails(budget_usd=5.0)
    approve_cost("job", 2.0, rails, ctx, what="x", spent=Spend(3.0))  # exactly at the budget
    with pytest.raises(GuardrailRefused, match=r"over budget_usd \$5.0000 \(\$2.0000 left\)"):
        approve_cost("job", 2.01, rails, ctx, what="x", spent=Spend(3.0))
    with pytest.raises(GuardrailRefused, match="unknown price"):
        approve_cost("job", 0.0, rails, ctx, what="x", spent=Spend(0.0, unpriced_attempts=1))
    assert asked == []


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -0.5,
        None,
        "abc",
        "1.0",
        [1],
        {"usd": 1},
        True,
        "",
        pytest.param(10**400, id="400-digits"),
    ],
)
def test_a_quote_that_is_not_a_finite_number_at_least_zero_is_unknown(value):
    from multigate.guardrails import parse_quote

    assert parse_quote(value) is None


@pytest.mark.parametrize("value", [0, 0.0, -0.0, 1, 2.5])
def test_prices_are_kept(value):
    from multigate.guardrails import parse_quote

    assert parse_quote(value) == float(value)
