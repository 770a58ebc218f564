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
    ctx, _, _ = context(yes=True)
    approve_cost("job", 5.0, CostGuardrails(max_cost_usd=5.0), ctx, what="x")


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
