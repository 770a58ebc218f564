"""The report's list of gaps: missing sessions (runs of them as one line), partial sessions
with the hours their data covers, data on closed days, and intraday holes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from multigate.html_report.series import Hole
from multigate.quality.calendars import sessions_between
from multigate.quality.coverage import Coverage, DatasetSessions, merge_sessions

MAX_GAPS = 200
"""Lines shown per dataset; the rest are counted."""
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Gap:
    symbol: str
    kind: str
    when: str
    detail: str


def _clock(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M")


def _rows_with(covered: Coverage, statuses: set[str]) -> list[dict[str, Any]]:
    """The coverage rows whose status is one of ``statuses`` (filtered before any Python
    object is made: a big lake's table has a row per symbol-session)."""
    table = covered.table
    mask = pc.is_in(table.column("status"), value_set=pa.array(sorted(statuses), pa.string()))
    return table.filter(mask).to_pylist()


def _missing_runs(covered: Coverage) -> list[Gap]:
    """Consecutive missing sessions of a symbol as one line (closed days between them do
    not break a run, a session with data does)."""
    table = covered.table.filter(pc.not_equal(covered.table.column("status"), "holiday"))
    statuses = table.column("status").to_pylist()
    wanted = [i for i, status in enumerate(statuses) if status == "missing"]
    if not wanted:
        return []
    symbols = table.column("symbol").to_pylist()
    sessions = table.column("session").to_pylist()
    gaps: list[Gap] = []
    start = previous = wanted[0]
    for index in [*wanted[1:], None]:
        if index is not None and index == previous + 1 and symbols[index] == symbols[start]:
            previous = index
            continue
        count = previous - start + 1
        when = str(sessions[start]) if count == 1 else f"{sessions[start]} .. {sessions[previous]}"
        detail = f"{count} session{'s' if count > 1 else ''} without data"
        gaps.append(Gap(symbols[start], "missing", when, detail))
        if index is not None:
            start = previous = index
    return gaps


def _partial(
    covered: Coverage, records: Sequence[Mapping[str, Any]], merged: DatasetSessions | None
) -> list[Gap]:
    partial = _rows_with(covered, {"partial"})
    if not partial:
        return []
    merged = merged or merge_sessions(records)
    first = min(r["session"] for r in partial)
    last = max(r["session"] for r in partial)
    hours: dict[str, dict[int, tuple[int, int]]] = {}
    for calendar in {c for c in merged.calendars.values() if c}:
        found = sessions_between(calendar, first, last)  # once per calendar, not per gap
        hours[calendar] = {
            int(label): (int(o), int(c))
            for label, o, c in zip(found.labels, found.opens, found.closes, strict=True)
        }
    gaps = []
    for row in partial:
        symbol, day = row["symbol"], row["session"]
        label = (day - _EPOCH).days
        cell = merged.cells.get(symbol, {}).get(label)
        session = hours.get(merged.calendars.get(symbol) or "", {}).get(label)
        detail = ""
        if cell is not None:
            detail = f"data {_clock(cell.first)} .. {_clock(cell.last)} UTC"
            if session is not None:
                detail += f"; session {_clock(session[0])} .. {_clock(session[1])} UTC"
        gaps.append(Gap(symbol, "partial", str(day), detail))
    return gaps


def _closed(covered: Coverage) -> list[Gap]:
    return [
        Gap(r["symbol"], "closed day", str(r["session"]), f"{r['rows']:,} rows on a closed day")
        for r in _rows_with(covered, {"closed_data"})
    ]


def _holes(holes: Sequence[Hole]) -> list[Gap]:
    out = []
    for hole in holes:
        minutes = (hole.end_ns - hole.start_ns) / 60e9
        length = f"{minutes:,.0f} min" if minutes < 120 else f"{minutes / 60:,.1f} h"
        end = datetime.fromtimestamp(hole.end_ns / 1e9, UTC)
        start = datetime.fromtimestamp(hole.start_ns / 1e9, UTC)
        same_day = start.date() == end.date()
        when = f"{_clock(hole.start_ns)} .. {end:%H:%M}" if same_day else (
            f"{_clock(hole.start_ns)} .. {_clock(hole.end_ns)}"
        )  # fmt: skip
        out.append(Gap(hole.symbol, "intraday hole", when + " UTC", f"no row for {length}"))
    return out


def gap_list(
    covered: Coverage,
    records: Sequence[Mapping[str, Any]],
    holes: Sequence[Hole] = (),
    merged: DatasetSessions | None = None,
) -> list[Gap]:
    """Every gap of a dataset, by symbol then time (see the module doc); ``merged``: its
    sessions when already merged."""
    found = _missing_runs(covered) + _partial(covered, records, merged) + _closed(covered)
    found += _holes(holes)
    return sorted(found, key=lambda g: (g.symbol, g.when, g.kind))


def shown_gaps(gaps: Sequence[Gap]) -> tuple[list[Gap], int]:
    """The first MAX_GAPS gaps and how many more there are."""
    return list(gaps[:MAX_GAPS]), max(0, len(gaps) - MAX_GAPS)
