"""The quality checks: stable snake_case names, what each means, and which ones fail ``--strict``.

A check never drops or changes a row; it counts what it finds and keeps a few examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class CheckInfo:
    name: str
    description: str
    fails_strict: bool
    """True: a count above zero makes ``--strict`` exit non-zero. False: informational (known
    vendor quirks, sparse feeds, heuristics)."""


CHECKS: dict[str, CheckInfo] = {
    info.name: info
    for info in (
        # per row, at ingest (from the Parquet)
        CheckInfo("duplicate_timestamp", "bars: same time as the symbol's previous row", True),
        CheckInfo("non_monotonic", "a row's time is before the previous row of its symbol", True),
        CheckInfo("ohlc_inconsistent", "high < low, or open/close outside [low, high]", True),
        CheckInfo("non_positive_price", "a price <= 0", True),
        CheckInfo("crossed_book", "best bid above best ask (both defined)", True),
        CheckInfo("missing_time", "a row without a time (left out of sessions)", True),
        CheckInfo("extreme_move", "one-step return beyond the threshold", False),
        CheckInfo("close_only", "vendor quirk: only a close (O=H=L=C or O/H/L missing)", False),
        CheckInfo("missing_value", "vendor quirk: a row without a close (FRED holidays)", False),
        # per session, from sidecars and the exchange calendar
        CheckInfo("missing_session", "an open session without data for a symbol", True),
        CheckInfo("closed_day_data", "data on a day the exchange was closed", True),
        CheckInfo("partial_session", "data starts late or ends early in a session", True),
        CheckInfo("missing_interval", "bars missing inside sessions (see density)", False),
    )
}


@dataclass
class CheckCounter:
    """A running count and the first few examples of one check."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, count: int, examples: list[str]) -> None:
        self.count += count
        room = MAX_EXAMPLES - len(self.examples)
        if room > 0:
            self.examples.extend(examples[:room])

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "examples": list(self.examples)}


def failing(checks: dict[str, dict[str, Any]]) -> dict[str, int]:
    """The checks in a ``{name: {"count": n, ...}}`` mapping that fail ``--strict``."""
    out = {}
    for name, result in checks.items():
        info = CHECKS.get(name)
        count = int((result or {}).get("count") or 0)
        if info is not None and info.fails_strict and count > 0:
            out[name] = count
    return out
