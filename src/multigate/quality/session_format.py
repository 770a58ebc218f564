"""The compact text form of per-session counts in a sidecar's ``quality.sessions``.

One string per symbol, one space-separated entry per session day:
``DAY,ROWS,FIRST,LAST,IN_HOURS,EMPTY`` where FIRST and LAST are the first and last time in
whole seconds after 00:00 UTC of DAY (first rounded down, last up; negative before it),
IN_HOURS the rows inside the session's hours and EMPTY the rows without a close. A year of
sessions is one line of about 8 KB, so 20,000 sidecars stay quick to read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

SESSION_FORMAT = "day,rows,first_s,last_s,in_hours,empty"
NS = 10**9
SECONDS_PER_DAY = 86_400
_EPOCH = date(1970, 1, 1)
_labels: dict[str, int] = {}


def day_label(day: str) -> int:
    """``"YYYY-MM-DD"`` -> days since 1970 (memoised: sidecars repeat the same days)."""
    label = _labels.get(day)
    if label is None:
        label = _labels[day] = (date.fromisoformat(day) - _EPOCH).days
    return label


def encode_sessions(days: dict[int, list[int]]) -> str:
    """``{label: [rows, first_ns, last_ns, in_hours, empty]}`` as one string (by day)."""
    parts = []
    for label in sorted(days):
        rows, first, last, in_hours, empty = days[label]
        base = label * SECONDS_PER_DAY
        first_s = first // NS - base
        last_s = -(-last // NS) - base
        day = (_EPOCH + timedelta(days=label)).isoformat()
        parts.append(f"{day},{rows},{first_s},{last_s},{in_hours},{empty}")
    return " ".join(parts)


def decode_sessions(text: str) -> Iterator[tuple[str, int, list[int]]]:
    """``(day, label, [rows, first_ns, last_ns, in_hours, empty])`` of an encoded string."""
    for entry in text.split():
        day, rows, first_s, last_s, in_hours, empty = entry.split(",")
        label = day_label(day)
        base = label * SECONDS_PER_DAY
        first = (base + int(first_s)) * NS
        last = (base + int(last_s)) * NS
        yield day, label, [int(rows), first, last, int(in_hours), int(empty)]
