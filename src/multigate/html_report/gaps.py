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
from multigate.quality.calendars import sessions_between, symbol_calendars
from multigate.quality.coverage import Coverage
from multigate.quality.session_format import decode_sessions

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


def _partial(covered: Coverage) -> list[Gap]:
    """Partial sessions, their hours not yet filled in (see :func:`_with_hours`)."""
    return [Gap(r["symbol"], "partial", str(r["session"]), "")
            for r in _rows_with(covered, {"partial"})]  # fmt: skip


def _first_last(
    records: Sequence[Mapping[str, Any]], wanted: set[tuple[str, int]]
) -> dict[tuple[str, int], list[int]]:
    """``(symbol, label) -> [first_ns, last_ns]`` of the wanted symbol-sessions, decoding only
    the wanted symbols' session strings."""
    symbols = {symbol for symbol, _ in wanted}
    found: dict[tuple[str, int], list[int]] = {}
    for record in records:
        sessions = (record.get("quality") or {}).get("sessions") or {}
        for symbol in symbols & sessions.keys():
            for _day, label, entry in decode_sessions(str(sessions[symbol])):
                if (symbol, label) not in wanted:
                    continue
                span = found.setdefault((symbol, label), [entry[1], entry[2]])
                span[0], span[1] = min(span[0], entry[1]), max(span[1], entry[2])
    return found


def _with_hours(gaps: list[Gap], records: Sequence[Mapping[str, Any]]) -> list[Gap]:
    """The partial ones of ``gaps`` with the hours their data covers and the session's."""
    partial = [(g.symbol, date.fromisoformat(g.when)) for g in gaps if g.kind == "partial"]
    if not partial:
        return gaps
    spans = _first_last(records, {(s, (day - _EPOCH).days) for s, day in partial})
    calendars = symbol_calendars(records)
    first, last = min(d for _, d in partial), max(d for _, d in partial)
    hours: dict[str, dict[int, tuple[int, int]]] = {}
    for calendar in {c for c in calendars.values() if c}:
        found = sessions_between(calendar, first, last)  # once per calendar, not per gap
        hours[calendar] = {
            int(label): (int(o), int(c))
            for label, o, c in zip(found.labels, found.opens, found.closes, strict=True)
        }
    out = []
    for gap in gaps:
        if gap.kind == "partial":
            label = (date.fromisoformat(gap.when) - _EPOCH).days
            span = spans.get((gap.symbol, label))
            session = hours.get(calendars.get(gap.symbol) or "", {}).get(label)
            detail = ""
            if span is not None:
                detail = f"data {_clock(span[0])} .. {_clock(span[1])} UTC"
                if session is not None:
                    detail += f"; session {_clock(session[0])} .. {_clock(session[1])} UTC"
            gap = Gap(gap.symbol, gap.kind, gap.when, detail)
        out.append(gap)
    return out


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
    limit: int = MAX_GAPS,
) -> tuple[list[Gap], int]:
    """The first ``limit`` gaps of a dataset, by symbol then time (see the module doc), and
    how many more there are."""
    found = _missing_runs(covered) + _partial(covered) + _closed(covered) + _holes(holes)
    found.sort(key=_order)
    return _with_hours(found[:limit], records), max(0, len(found) - limit)


def _order(gap: Gap) -> tuple[str, str, str]:
    return gap.symbol, gap.when, gap.kind
