"""Continuous futures from raw contract bars: each exchange session takes the contract a
roll rule picks, and the series can be back-adjusted so it has no gap at a roll.

Rules (decided per session, from what was known before it opened, so never looking ahead):
``"volume"``: the contracts ranked by the previous session's volume; ``"calendar"``: the
contracts not yet expired at the session's open, ranked by expiration. ``rank`` 0 is the
front. Back-adjustment at each roll compares the two contracts' last closes of the session
before it: ``"ratio"`` multiplies every earlier price by new/old, ``"difference"`` adds
new - old (cumulatively over later rolls); the newest contract keeps its traded prices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from multigate.backtest.adjust import PRICE_COLUMNS
from multigate.backtest.resample import daily, session_of

Roll = Literal["volume", "calendar"]
ROLLS = ("volume", "calendar")
ADJUSTS = (None, "ratio", "difference")
ROLLS_KEY = b"multigate.rolls"


def continuous(
    table: pa.Table,
    time_column: str,
    calendar: str | None,
    roll: str,
    adjust: str | None,
    rank: int,
    expirations: Mapping[str, Any] | None,
) -> pa.Table:
    """The rows of the contract picked for each session (``contract``: its symbol), with
    the rolls in the schema metadata (``rolls(table)``)."""
    if roll not in ROLLS:
        raise ValueError(f"roll='{roll}': use 'volume' or 'calendar'")
    if adjust not in ADJUSTS:
        raise ValueError(f"adjust='{adjust}': use None, 'ratio' or 'difference'")
    if rank < 0:
        raise ValueError(f"rank={rank}: 0 is the front contract, 1 the next, ...")
    if roll == "calendar" and not expirations:
        raise ValueError("roll='calendar' needs the contracts' expirations")
    sessions, _ = daily(table, time_column, calendar)
    days = sorted(set(sessions["session"].to_pylist()))
    summary = _per_session(sessions)
    picks: dict[date, str] = {}
    for index, day in enumerate(days):
        if roll == "volume":
            if index == 0:
                continue  # no session before it to rank by
            ranked = _by_volume(summary.get(days[index - 1], {}))
        else:
            opened = _session_open(sessions, day)
            ranked = _by_expiration(expirations or {}, opened)
        if len(ranked) > rank:
            picks[day] = ranked[rank]
    rolls = _rolls(picks, days, summary)
    rows = _rows_of_picks(table, time_column, calendar, picks)
    _roll_times(rows, time_column, rolls)
    if adjust is not None:
        rows = _back_adjust(rows, time_column, rolls, adjust)
    metadata = dict(table.schema.metadata or {})
    metadata[ROLLS_KEY] = json.dumps(rolls, default=str).encode()
    return rows.replace_schema_metadata(metadata)


def rolls(table: pa.Table) -> list[dict[str, Any]] | None:
    """The rolls of a continuous series: ``session``, ``at`` (its first row, ns UTC),
    ``from``, ``to``, and both contracts' closes in the session before (``old_close``,
    ``new_close``)."""
    metadata = table.schema.metadata or {}
    if ROLLS_KEY not in metadata:
        return None
    found: list[dict[str, Any]] = json.loads(metadata[ROLLS_KEY])
    return found


def _per_session(sessions: pa.Table) -> dict[date, dict[str, tuple[float, float]]]:
    """Each session's contracts with their (volume, last close)."""
    out: dict[date, dict[str, tuple[float, float]]] = {}
    for row in sessions.select(["session", "symbol", "volume", "close"]).to_pylist():
        out.setdefault(row["session"], {})[row["symbol"]] = (
            float(row["volume"] or 0),
            float(row["close"]),
        )
    return out


def _session_open(sessions: pa.Table, day: date) -> int:
    """The open (ns UTC) of session ``day``, as the daily bars label it."""
    mask = pc.equal(sessions["session"], pa.scalar(day, pa.date32()))
    opens = sessions.filter(mask).column(0).cast(pa.int64())
    return int(pc.min(opens).as_py())


def _by_volume(contracts: Mapping[str, tuple[float, float]]) -> list[str]:
    return [name for name, _ in sorted(contracts.items(), key=lambda kv: (-kv[1][0], kv[0]))]


def _by_expiration(expirations: Mapping[str, Any], opened_ns: int) -> list[str]:
    import pandas as pd

    live = []
    for name, value in expirations.items():
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        if stamp.value > opened_ns:
            live.append((stamp.value, name))
    return [name for _, name in sorted(live)]


def _rolls(
    picks: Mapping[date, str],
    days: list[date],
    summary: Mapping[date, Mapping[str, tuple[float, float]]],
) -> list[dict[str, Any]]:
    found = []
    ordered = [day for day in days if day in picks]
    for before, day in pairwise(ordered):
        if picks[day] == picks[before]:
            continue
        previous = days[days.index(day) - 1]
        closes = summary.get(previous, {})
        old, new = closes.get(picks[before]), closes.get(picks[day])
        found.append(
            {
                "session": day,
                "from": picks[before],
                "to": picks[day],
                "old_close": None if old is None else old[1],
                "new_close": None if new is None else new[1],
            }
        )
    return found


def _rows_of_picks(
    table: pa.Table, time_column: str, calendar: str | None, picks: Mapping[date, str]
) -> pa.Table:
    """The rows of each session's pick, in time order, with ``contract`` (its symbol) and
    ``session`` (the session's date)."""
    labels = session_of(table, time_column, calendar)
    chosen = [picks.get(label) for label in labels.to_pylist()]
    keep = pc.equal(table["symbol"], pa.array(chosen, pa.string()))
    rows = table.append_column("session", labels).filter(pc.fill_null(keep, False))
    return rows.append_column("contract", rows["symbol"])


def _roll_times(rows: pa.Table, time_column: str, found: list[dict[str, Any]]) -> None:
    """Each roll's ``at``: the time of the first row of its session (ns UTC)."""
    times = rows[time_column].cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
    for item in found:
        mask = pc.equal(rows["session"], pa.scalar(item["session"], pa.date32()))
        item["at"] = int(pc.min(times.filter(mask)).as_py())


def _back_adjust(
    rows: pa.Table, time_column: str, found: list[dict[str, Any]], how: str
) -> pa.Table:
    """Every price before each roll moved onto the contract after it."""
    times = rows[time_column].cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy()
    factor = np.ones(rows.num_rows)
    offset = np.zeros(rows.num_rows)
    for item in found:
        if item["old_close"] is None or item["new_close"] is None:
            raise ValueError(
                f"the roll to {item['to']} on {item['session']}: both contracts need a close "
                "in the session before it to back-adjust"
            )
        before = times < item["at"]
        if how == "ratio":
            factor[before] *= item["new_close"] / item["old_close"]
        else:
            offset[before] += item["new_close"] - item["old_close"]
    for index, name in enumerate(rows.column_names):
        if PRICE_COLUMNS.match(name):
            values = pc.multiply(rows[name].cast(pa.float64()), pa.array(factor))
            rows = rows.set_column(index, name, pc.add(values, pa.array(offset)))
    return rows
