"""Split a [start, end) range into chunks aligned to fixed UTC calendar boundaries.

Because boundaries are fixed (first of the day/month/year in UTC, or Monday for weeks), the
chunks planned for [s, e1) are reused unchanged when planning [s, e2) with e2 > e1; only
the last chunk of the shorter plan, if it was partial, differs and may need refetching.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

ChunkPeriod = Literal["day", "week", "month", "quarter", "year"]
CHUNK_PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")


class Chunk(NamedTuple):
    start: datetime
    end: datetime


def as_utc(value: datetime) -> datetime:
    """Tz-aware UTC datetime; naive values are taken as UTC (as alpaca-py does)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def period_floor(moment: datetime, period: ChunkPeriod) -> datetime:
    """Start of the calendar period (UTC) that contains `moment`."""
    moment = as_utc(moment)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown chunk period {period!r}; use one of {', '.join(CHUNK_PERIODS)}")


def next_boundary(boundary: datetime, period: ChunkPeriod) -> datetime:
    """The period start following `boundary` (which must itself be a period start)."""
    if period == "day":
        return boundary + timedelta(days=1)
    if period == "week":
        return boundary + timedelta(weeks=1)
    months = {"month": 1, "quarter": 3, "year": 12}.get(period)
    if months is None:
        raise ValueError(f"unknown chunk period {period!r}; use one of {', '.join(CHUNK_PERIODS)}")
    index = boundary.year * 12 + boundary.month - 1 + months
    return boundary.replace(year=index // 12, month=index % 12 + 1)


def plan_chunks(start: datetime, end: datetime, period: ChunkPeriod) -> list[Chunk]:
    """Half-open chunks covering [start, end), cut at fixed calendar boundaries (UTC).

    The first chunk starts at `start` and the last ends at `end`; all inner cuts sit on
    period boundaries. Naive datetimes are taken as UTC. Raises ValueError if end <= start.
    """
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ValueError(f"end {end.isoformat()} must be after start {start.isoformat()}")
    chunks: list[Chunk] = []
    boundary = period_floor(start, period)
    while boundary < end:
        following = next_boundary(boundary, period)
        chunks.append(Chunk(max(start, boundary), min(end, following)))
        boundary = following
    return chunks


def is_full_chunk(chunk: Chunk, period: ChunkPeriod) -> bool:
    """True if the chunk covers its whole calendar period (so a cached copy is final)."""
    floor = period_floor(chunk.start, period)
    return chunk.start == floor and chunk.end == next_boundary(floor, period)
