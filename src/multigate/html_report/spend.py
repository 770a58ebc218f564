"""Databento spend per job, read from ``raw/databento/ledger.jsonl`` records.

Ledger events (``storage.ledger``): ``estimate`` (a quote for one chunk: ``usd``),
``attempt`` (a billable request, counted at its chunk's quoted ``usd``), ``attempt_failed``
(``billable: false`` when the vendor answered an error: that attempt cost nothing) and
``download`` (the chunk stored). Quoted = the latest quote of every chunk; paid = billable
attempts. Unknown events and malformed amounts are ignored, never fatal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_NOT_REQUEST = frozenset({"at", "event", "job", "usd", "attempt", "billable", "bytes", "sha256"})


@dataclass
class JobSpend:
    job: str
    quoted_usd: float = 0.0
    paid_usd: float = 0.0
    estimates: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    downloads: int = 0


def _usd(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _chunk(record: Mapping[str, Any]) -> str:
    return repr(sorted((k, str(v)) for k, v in record.items() if k not in _NOT_REQUEST))


def spend_by_job(ledger: Iterable[Mapping[str, Any]]) -> list[JobSpend]:
    """One :class:`JobSpend` per job named in the ledger, in name order."""
    jobs: dict[str, JobSpend] = {}
    quotes: dict[tuple[str, str], float] = {}
    last_attempt: dict[tuple[str, str], float] = {}
    for record in ledger:
        if not isinstance(record, Mapping):
            continue
        job = str(record.get("job") or "?")
        spend = jobs.setdefault(job, JobSpend(job))
        key = (job, _chunk(record))
        event = record.get("event")
        usd = _usd(record.get("usd"))
        if event == "estimate" and usd is not None:
            spend.estimates += 1
            quotes[key] = usd
        elif event == "attempt":
            spend.attempts += 1
            last_attempt[key] = usd or 0.0
            spend.paid_usd += usd or 0.0
        elif event == "attempt_failed":
            spend.failed_attempts += 1
            if record.get("billable") is False:
                spend.paid_usd -= last_attempt.pop(key, 0.0)
        elif event == "download":
            spend.downloads += 1
    for (job, _), usd in quotes.items():
        jobs[job].quoted_usd += usd
    return [jobs[name] for name in sorted(jobs)]
