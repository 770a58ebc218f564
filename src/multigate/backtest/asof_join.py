"""Point-in-time joins: each left row gets the latest right row already known at its time,
never one known later (no look-ahead).

A right row is known at its timestamp plus ``delay`` (a bar labelled by its start is known
at its end: ``delay="1min"``), or, for rows keyed by a date (a daily close), at ``known_at``
on that date in the given time zone (``"16:15 America/New_York"``: the VIX close).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from multigate.datasets import TIME_COLUMNS

UTC_NS = pa.timestamp("ns", tz="UTC")
KNOWN_AT = "known_at"
NEVER = np.iinfo(np.int64).max
"""The instant of a null time: it matches nothing."""
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(\S+)\s*$")


@dataclass(frozen=True)
class AsofRule:
    """How the join matches: by which key, what delay or time of day makes a right row
    known, how stale a match may be, and whether a row known exactly at the left time
    counts."""

    by: str | None = "symbol"
    tolerance: Any = None
    known_at: str | None = None
    delay: Any = None
    allow_exact: bool = True
    suffix: str = "_right"
    left_on: str | None = None
    """The left time column (default: its ``ts_event``, ``timestamp`` or ``date``)."""
    right_on: str | None = None
    """The right time column (default: as for the left)."""


def join_asof(
    left: pa.Table,
    right: pa.Table,
    rule: AsofRule,
    right_columns: Sequence[str] | None = None,
) -> pa.Table:
    """``left`` with the columns of the right row matched to each of its rows (null where
    none), plus ``known_at``: when that row became known. Left's rows and order are kept."""
    left_time = time_column_of(left, "left", rule.left_on)
    right_time = time_column_of(right, "right", rule.right_on)
    for side, table in (("left", left), ("right", right)):
        if rule.by is not None and rule.by not in table.column_names:
            raise ValueError(f"by='{rule.by}': the {side} table has no such column")
    t = _instants(left[left_time], "left", None, None)
    known = _instants(right[right_time], "right", rule.known_at, rule.delay)
    limit = None if rule.tolerance is None else _duration(rule.tolerance, "tolerance")
    left_keys, right_keys = _codes(left, right, rule.by)
    match = _match(t, left_keys, known, right_keys, limit, rule.allow_exact)
    indices = pa.array(np.where(match >= 0, match, 0), mask=match < 0)
    chosen = [
        name
        for name in (right_columns if right_columns is not None else right.column_names)
        if name != rule.by
    ]
    missing = [name for name in chosen if name not in right.column_names]
    if missing:
        raise ValueError(f"the right table has no column {', '.join(missing)}")
    result = left
    for name in [*chosen, KNOWN_AT]:
        values = (
            right[name].take(indices)
            if name != KNOWN_AT
            else pa.array(known, type=pa.int64()).take(indices).cast(UTC_NS)
        )
        out = name if name not in result.column_names else name + rule.suffix
        if out in result.column_names:
            raise ValueError(f"column '{out}' is on both sides: pass another suffix")
        result = result.append_column(out, values)
    return result


def time_column_of(table: pa.Table, side: str, chosen: str | None = None) -> str:
    if chosen is not None:
        if chosen not in table.column_names:
            raise ValueError(f"the {side} table has no column '{chosen}'")
        return chosen
    found = next((name for name in TIME_COLUMNS if name in table.column_names), None)
    if found is None:
        raise ValueError(f"the {side} table has no time column ({', '.join(TIME_COLUMNS)})")
    return found


def _instants(column: pa.ChunkedArray, side: str, known_at: str | None, delay: Any) -> np.ndarray:
    """When each row is known, as int64 ns UTC (nulls: never, i.e. the largest int64)."""
    if pa.types.is_date(column.type):
        if side == "left":
            ns = _ns(column.cast(pa.date32()).cast(pa.timestamp("s")).cast(UTC_NS))
        elif known_at is None:
            raise ValueError(
                "the right table is keyed by dates: say when each date's row is known, "
                "e.g. known_at='16:15 America/New_York'"
            )
        else:
            ns = _at_clock(column, known_at)
    elif pa.types.is_timestamp(column.type):
        if known_at is not None and side == "right":
            raise ValueError("known_at is for rows keyed by dates; give a delay for timestamps")
        ns = _ns(column.cast(pa.timestamp("ns", tz=column.type.tz)))
    else:
        raise ValueError(f"the {side} time column is {column.type}, not a date or a time")
    if delay is not None and side == "right":
        ns = np.where(ns == NEVER, NEVER, ns + _duration(delay, "delay"))  # null stays null
    return ns


def _ns(column: pa.ChunkedArray) -> np.ndarray:
    values = column.cast(pa.int64()).fill_null(NEVER)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)


def _at_clock(column: pa.ChunkedArray, known_at: str) -> np.ndarray:
    """Each date at ``"HH:MM[:SS] Zone"`` in that zone (daylight saving included), in ns UTC."""
    import pandas as pd

    found = _CLOCK.match(known_at)
    if found is None:
        raise ValueError(
            f"known_at='{known_at}': write 'HH:MM Zone', e.g. '16:15 America/New_York'"
        )
    hours, minutes, seconds, zone = found.groups()
    offset = pd.Timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
    days = pd.to_datetime(pd.Series(column.cast(pa.date32()).to_pylist(), dtype="object"))
    try:
        local = (days + offset).dt.tz_localize(zone, ambiguous="raise", nonexistent="raise")
    except Exception as exc:  # an unknown zone, or a clock time a DST change skips
        raise ValueError(f"known_at='{known_at}': {exc}") from None
    stamps = local.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    values = stamps.to_numpy().astype(np.int64)
    return np.where(local.isna().to_numpy(), NEVER, values)


def _duration(value: Any, what: str) -> int:
    import pandas as pd

    try:
        step = pd.Timedelta(value)
    except ValueError:
        raise ValueError(f"{what}={value!r} is not a duration (e.g. '1min', '1D')") from None
    if step.value < 0:
        raise ValueError(f"{what}={value!r} is negative")
    return int(step.value)


def _codes(left: pa.Table, right: pa.Table, by: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The ``by`` key of each row as integers shared by both sides (all 0 without one)."""
    if by is None:
        return np.zeros(left.num_rows, np.int64), np.zeros(right.num_rows, np.int64)
    both = pa.chunked_array(
        [*left[by].cast(right[by].type).chunks, *right[by].chunks], type=right[by].type
    )
    encoded = pc.dictionary_encode(both).combine_chunks()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes[: left.num_rows], codes[left.num_rows :]


def _match(
    t: np.ndarray,
    left_keys: np.ndarray,
    known: np.ndarray,
    right_keys: np.ndarray,
    limit: int | None,
    allow_exact: bool,
) -> np.ndarray:
    """For each left row, the index of the right row of its key with the latest known time
    at or before its time (before, unless ``allow_exact``), the last such row on ties; -1
    for none (or one older than ``limit``)."""
    match = np.full(len(t), -1, dtype=np.int64)
    order = np.lexsort((known, right_keys))  # stable: ties keep the right's order
    sorted_keys, sorted_known = right_keys[order], known[order]
    for key in np.unique(left_keys):
        if key < 0:
            continue  # a null key matches nothing
        lo, hi = np.searchsorted(sorted_keys, [key, key + 1])
        if lo == hi:
            continue  # no right row has this key
        rows = np.flatnonzero(left_keys == key)
        times = t[rows]
        side: Literal["left", "right"] = "right" if allow_exact else "left"
        position = np.searchsorted(sorted_known[lo:hi], times, side=side) - 1
        found = position >= 0
        picked = order[lo + np.clip(position, 0, None)]
        if limit is not None:
            found &= times - known[picked] <= limit
        found &= (known[picked] != NEVER) & (times != NEVER)
        match[rows[found]] = picked[found]
    return match
