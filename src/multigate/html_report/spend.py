"""Databento spend per job, read from ``raw/databento/ledger.jsonl`` records.

Ledger events (``storage.ledger``): ``estimate`` (a quote for one chunk: ``usd``),
``attempt`` (a billable request, counted at its chunk's quoted ``usd``), ``attempt_failed``
(``billable: false`` when the vendor answered an error: that attempt cost nothing) and
``download`` (the chunk stored). Quoted = the latest quote of every chunk; paid = what the
cost guardrails count (billable attempts at their quote). Unknown events and malformed
amounts are ignored, never fatal; a record naming no job is left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_NOT_REQUEST = frozenset(
    {"at", "event", "job", "usd", "attempt", "billable", "bytes", "sha256", "reason", "quote"}
)


@dataclass
class JobSpend:
    job: str
    quoted_usd: float = 0.0
    paid_usd: float = 0.0
    estimates: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    downloads: int = 0
    unpriced_attempts: int = 0
    """Attempts whose quote was unknown (not in ``paid_usd``)."""


def _usd(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _chunk(record: Mapping[str, Any]) -> str:
    return repr(sorted((k, str(v)) for k, v in record.items() if k not in _NOT_REQUEST))


def spend_by_job(ledger: Iterable[Mapping[str, Any]]) -> list[JobSpend]:
    """One :class:`JobSpend` per job named in the ledger, in name order. Paid is what the
    cost guardrails count against ``budget_usd`` (``guardrails.spend_from_ledger``)."""
    from multigate.guardrails import spend_from_ledger

    records = [r for r in ledger if isinstance(r, Mapping) and isinstance(r.get("job"), str)]
    jobs: dict[str, JobSpend] = {}
    quotes: dict[tuple[str, str], float] = {}
    for record in records:
        job = str(record["job"])
        spend = jobs.setdefault(job, JobSpend(job))
        event = record.get("event")
        usd = _usd(record.get("usd"))
        if event == "estimate" and usd is not None:
            spend.estimates += 1
            quotes[(job, _chunk(record))] = usd
        elif event == "attempt":
            spend.attempts += 1
        elif event == "attempt_failed":
            spend.failed_attempts += 1
        elif event == "download":
            spend.downloads += 1
    for (job, _), usd in quotes.items():
        jobs[job].quoted_usd += usd
    for name, spend in jobs.items():
        billed = spend_from_ledger(records, name)
        spend.paid_usd = billed.billed_usd
        spend.unpriced_attempts = billed.unpriced_attempts
    return [jobs[name] for name in sorted(jobs)]
