"""Session coverage and session checks of a dataset, from its sidecars only (no Parquet).

Each ingested output's sidecar holds per-symbol, per-session row counts and first/last
times (:mod:`multigate.quality.assess`). Against an exchange calendar they tell, per symbol
and session: ``present``, ``partial`` (starts late or ends early; early closes count as the
session's real close), ``missing`` (an open session without data), ``holiday`` (a weekday the
exchange was closed), or ``closed_data`` (data on a closed day). For bars, the rows inside
the session's hours against the bars it could hold give a ``density`` (sparse feeds such
as IEX are reported, not failed).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from multigate.quality.calendars import (
    NO_CALENDAR,
    Sessions,
    check_calendar_name,
    default_calendar,
    sessions_between,
)
from multigate.quality.checks import MAX_EXAMPLES, CheckCounter
from multigate.quality.session_format import decode_sessions

PARTIAL_TOLERANCE = timedelta(minutes=15)
"""Data may start this late or end this early in a session before it counts as partial."""
NS_PER_DAY = 86_400 * 10**9
_EPOCH = date(1970, 1, 1)

STATUSES = ("present", "partial", "missing", "holiday", "closed_data")
COVERAGE_SCHEMA = pa.schema(
    [
        ("symbol", pa.string()),
        ("session", pa.date32()),
        ("status", pa.string()),
        ("rows", pa.int64()),
        ("density", pa.float64()),
    ]
)
SESSION_CHECKS = ("missing_session", "closed_day_data", "partial_session", "missing_interval")


@dataclass
class _Cell:
    rows: int = 0
    first: int = 0
    last: int = 0
    in_hours: int = 0
    empty: int = 0

    def add(self, entry: Sequence[int]) -> None:
        rows, first, last, in_hours, empty = entry[:5]
        if self.rows == 0:
            self.first, self.last = first, last
        else:
            if first < self.first:
                self.first = first
            if last > self.last:
                self.last = last
        self.rows += rows
        self.in_hours += in_hours
        self.empty += empty


@dataclass
class DatasetSessions:
    """Every symbol's sessions of one dataset, merged over its outputs' sidecars."""

    calendar: str | None
    """The calendar (or the calendars, comma-separated) the symbols follow; None: UTC days."""
    kind: str | None
    interval_ns: int | None
    cells: dict[str, dict[int, _Cell]] = field(default_factory=dict)
    queries: list[Mapping[str, Any]] = field(default_factory=list)
    calendars: dict[str, str | None] = field(default_factory=dict)
    """Each symbol's calendar (a dataset may mix venues: an offline folder of DBN files)."""
    market_data: bool = True
    """False for reference records (definitions, statistics...): no session is expected."""
    outputs_by_cell: dict[tuple[str, int], str] = field(default_factory=dict)


def merge_sessions(
    records: Iterable[Mapping[str, Any]], calendar: str | None = None
) -> DatasetSessions:
    """Merge the ``quality.sessions`` of a dataset's sidecar records. ``calendar`` None:
    the calendar the outputs were assessed with (else their default); ``"none"``: none."""
    if calendar is not None:
        check_calendar_name(calendar)  # a clear ValueError for a misspelt name
    merged = DatasetSessions(calendar=None, kind=None, interval_ns=None)
    for record in records:
        quality = record.get("quality") or {}
        own = quality["calendar"] if "calendar" in quality else default_calendar(record)
        chosen = calendar or own or NO_CALENDAR
        merged.kind = merged.kind or quality.get("kind")
        merged.queries.append(record.get("query") or {})
        if quality.get("market_data") is False:
            merged.market_data = False
        step = declared_interval(record) or quality.get("interval_ns")
        if isinstance(step, int) and step > 0:
            merged.interval_ns = (
                step if merged.interval_ns is None else min(merged.interval_ns, step)
            )
        output = str((record.get("file") or {}).get("name") or "")
        for symbol, text in (quality.get("sessions") or {}).items():
            merged.calendars.setdefault(symbol, None if chosen == NO_CALENDAR else chosen)
            cells = merged.cells.setdefault(symbol, {})
            for _day, label, entry in decode_sessions(str(text)):
                cell = cells.get(label)
                if cell is None:
                    cell = cells[label] = _Cell()
                    merged.outputs_by_cell[(symbol, label)] = output
                cell.add(entry)
    names = {name or NO_CALENDAR for name in merged.calendars.values()}
    if calendar is not None:
        names = {calendar}
    shown = ", ".join(sorted(names))
    merged.calendar = None if shown in ("", NO_CALENDAR) else shown
    return merged


_UNIT_NS = {"s": 10**9, "m": 60 * 10**9, "min": 60 * 10**9, "h": 3600 * 10**9,
            "hour": 3600 * 10**9, "d": NS_PER_DAY, "day": NS_PER_DAY}  # fmt: skip


def declared_interval(record: Mapping[str, Any]) -> int | None:
    """The bar length a sidecar declares (Alpaca ``timeframe: 5Min``, Databento schema
    ``ohlcv-1m``), in ns; None when it declares none. Beats the interval seen in the data,
    which a sparse feed overstates."""
    vendor = record.get("vendor") or {}
    text = str(vendor.get("timeframe") or "")
    schema = str(vendor.get("schema") or "")
    if not text and schema.startswith("ohlcv-"):
        text = schema.removeprefix("ohlcv-")
    digits = "".join(ch for ch in text if ch.isdigit())
    unit = text[len(digits) :].lower()
    if not digits or unit not in _UNIT_NS:
        return None
    return int(digits) * _UNIT_NS[unit]


def requested_range(
    queries: Sequence[Mapping[str, Any]], today: date | None = None
) -> tuple[int | None, int | None]:
    """First and last day (labels, inclusive) of the range every query asked for, when they
    agree: ``start`` inclusive; a date-only ``end`` includes that day, a time is exclusive;
    never past ``today`` (UTC)."""
    starts = {str(q.get("start")) for q in queries if q.get("start")}
    ends = {str(q.get("end")) for q in queries if q.get("end")}
    first = last = None
    if len(starts) == 1 and all(q.get("start") for q in queries):
        first = _start_label(starts.pop())
    if len(ends) == 1 and all(q.get("end") for q in queries):
        last = _end_label(ends.pop())
        now = today or datetime.now(UTC).date()
        if last is not None:
            last = min(last, (now - _EPOCH).days)
    return first, last


def _start_label(text: str) -> int | None:
    """The first day a ``start:`` value includes."""
    moment = _parse_bound(text)
    if isinstance(moment, datetime):
        return (moment.date() - _EPOCH).days
    return None if moment is None else (moment - _EPOCH).days


def _end_label(text: str) -> int | None:
    """The last day an ``end:`` value includes (a date-only end includes its whole day)."""
    moment = _parse_bound(text)
    if isinstance(moment, datetime):
        return ((moment - timedelta(microseconds=1)).date() - _EPOCH).days
    return None if moment is None else (moment - _EPOCH).days


def _parse_bound(text: str) -> date | datetime | None:
    """A job's ``start``/``end`` text: a date, or a UTC datetime; None when unreadable."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class _Day:
    label: int
    is_session: bool
    open_ns: int
    close_ns: int


def _days(calendar: str | None, first: int, last: int) -> tuple[list[_Day], dict[int, _Day]]:
    """Every day from label ``first`` to ``last``: its session hours, or closed."""
    if calendar is None:
        days = [_Day(d, True, d * NS_PER_DAY, (d + 1) * NS_PER_DAY) for d in range(first, last + 1)]
        return days, {d.label: d for d in days}
    sessions: Sessions = sessions_between(
        calendar, _EPOCH + timedelta(days=first), _EPOCH + timedelta(days=last)
    )
    open_by_label = {
        int(label): (int(o), int(c))
        for label, o, c in zip(sessions.labels, sessions.opens, sessions.closes, strict=True)
    }
    known_first = (sessions.first - _EPOCH).days
    known_last = (sessions.last - _EPOCH).days
    days = []
    for label in range(first, last + 1):
        hours = open_by_label.get(label)
        unknown = not known_first <= label <= known_last
        if hours is None and unknown and _weekday(label) < 5:
            # beyond the calendar's range: weekdays count as whole-day sessions
            hours = (label * NS_PER_DAY, (label + 1) * NS_PER_DAY)
        days.append(_Day(label, hours is not None, *(hours or (0, 0))))
    return days, {d.label: d for d in days}


def _label(value: date | datetime | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = (
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            if "T" in value or " " in value
            else date.fromisoformat(value)
        )
    if isinstance(value, datetime):
        value = value.date()
    return (value - _EPOCH).days


@dataclass(frozen=True)
class SessionCounts:
    """Symbol-sessions of a coverage table by what they hold. ``expected``: the sessions
    the exchange was open (present, partial or missing); holidays are not expected, and
    data on a closed day is counted apart."""

    expected: int
    with_data: int
    """Expected sessions holding any data (present or partial)."""
    complete: int
    """Expected sessions with data from open to close (present)."""
    partial: int
    missing: int
    holidays: int
    closed_data: int

    def share(self, part: int) -> float | None:
        return part / self.expected if self.expected else None


@dataclass
class Coverage:
    """Coverage rows plus the session checks they imply."""

    table: pa.Table
    checks: dict[str, CheckCounter]
    density: float | None
    calendar: str | None

    def counts(self) -> SessionCounts:
        """The table's symbol-sessions by status (see :class:`SessionCounts`)."""
        found = dict.fromkeys(STATUSES, 0)
        for item in pc.value_counts(self.table.column("status")).to_pylist():
            found[item["values"]] = int(item["counts"])
        present, partial, missing = found["present"], found["partial"], found["missing"]
        return SessionCounts(
            expected=present + partial + missing,
            with_data=present + partial,
            complete=present,
            partial=partial,
            missing=missing,
            holidays=found["holiday"],
            closed_data=found["closed_data"],
        )


def coverage(
    records: Iterable[Mapping[str, Any]],
    calendar: str | None = None,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    *,
    partial_tolerance: timedelta = PARTIAL_TOLERANCE,
    today: date | None = None,
) -> Coverage:
    """Coverage of a dataset (see the module doc). ``start`` inclusive, ``end`` exclusive
    (dates, UTC); by default from the range the job asked for (its ``start``/``end``, up to
    ``today``) and the sessions it has data for, whichever is wider."""
    merged = merge_sessions(records, calendar)
    checks = {name: CheckCounter() for name in SESSION_CHECKS}
    asked_first, asked_last = requested_range(merged.queries, today)
    start_label, end_label = _label(start), _label(end)
    spans: dict[str, tuple[int, int]] = {}
    for symbol, symbol_cells in merged.cells.items():
        labels = [label for label, cell in symbol_cells.items() if cell.rows]
        if not labels:
            continue
        lo = start_label if start_label is not None else min(labels)
        hi = end_label - 1 if end_label is not None else max(labels)
        if start_label is None and asked_first is not None:
            lo = min(lo, asked_first)
        if end_label is None and asked_last is not None:
            hi = max(hi, asked_last)
        spans[symbol] = (lo, hi)
    if not spans:
        return Coverage(COVERAGE_SCHEMA.empty_table(), checks, None, merged.calendar)
    first = min(lo for lo, _ in spans.values())
    last = max(hi for _, hi in spans.values())
    calendars: dict[str | None, tuple[list[_Day], dict[int, _Day], list[int]]] = {}
    for name in set(merged.calendars.values()):
        days, by_label = _days(name, first, last)
        shown_all = [d for d in days if d.is_session or _weekday(d.label) < 5]
        calendars[name] = (shown_all, by_label, [d.label for d in shown_all])
    tolerance = partial_tolerance.total_seconds() * 1e9
    intraday = merged.kind != "daily" and merged.market_data
    interval = merged.interval_ns if merged.kind == "bars" else None
    if interval is not None and interval >= NS_PER_DAY:
        interval, intraday = None, False  # daily bars: one per session, never partial
    have_total = expect_total = 0

    symbols: list[str] = []
    sessions: list[int] = []
    statuses: list[str] = []
    rows: list[int] = []
    densities: list[float | None] = []
    for symbol in sorted(spans):
        cells = merged.cells[symbol]
        lo, hi = spans[symbol]
        if not merged.market_data:  # reference records: list the days with data, judge none
            for label in sorted(x for x in cells if lo <= x <= hi):
                symbols.append(symbol)
                sessions.append(label)
                statuses.append("present")
                rows.append(cells[label].rows)
                densities.append(None)
            continue
        shown_all, by_label, shown_labels_all = calendars[merged.calendars.get(symbol)]
        shown = shown_all[bisect_left(shown_labels_all, lo) : bisect_right(shown_labels_all, hi)]
        shown_labels = {d.label for d in shown}
        extra = [
            by_label.get(label) or _Day(label, False, 0, 0)
            for label in cells
            if lo <= label <= hi and label not in shown_labels
        ]
        for day in sorted([*shown, *extra], key=_by_label) if extra else shown:
            cell = cells.get(day.label)
            valid = cell.rows - cell.empty if cell else 0
            density = None
            if not day.is_session:
                status = "closed_data" if valid else "holiday"
                if valid:
                    _flag(checks["closed_day_data"], 1, symbol, day.label)
            elif not valid:
                status = "missing"
                _flag(checks["missing_session"], 1, symbol, day.label)
            else:
                status = "present"
                assert cell is not None
                if intraday:
                    covered_end = cell.last + (interval or 0)
                    late = cell.first > day.open_ns + tolerance
                    early = covered_end < day.close_ns - tolerance
                    if late or early:
                        status = "partial"
                        _flag(checks["partial_session"], 1, symbol, day.label)
                if interval:
                    expected = max((day.close_ns - day.open_ns) // interval, 1)
                    have = min(cell.in_hours, expected)
                    density = have / expected
                    have_total += have
                    expect_total += expected
                    if have < expected:
                        _flag(checks["missing_interval"], expected - have, symbol, day.label)
            symbols.append(symbol)
            sessions.append(day.label)
            statuses.append(status)
            rows.append(cell.rows if cell else 0)
            densities.append(density)
    table = pa.table(
        {
            "symbol": pa.array(symbols, pa.string()),
            "session": pa.array(np.asarray(sessions, dtype=np.int32), pa.int32()).cast(pa.date32()),
            "status": pa.array(statuses, pa.string()),
            "rows": pa.array(rows, pa.int64()),
            "density": pa.array(densities, pa.float64()),
        },
        schema=COVERAGE_SCHEMA,
    )
    overall = have_total / expect_total if expect_total else None
    return Coverage(table, checks, overall, merged.calendar)


def _by_label(day: _Day) -> int:
    return day.label


def _flag(counter: CheckCounter, count: int, symbol: str, label: int) -> None:
    """Count a session finding; keep its example while there is room for one."""
    if len(counter.examples) < MAX_EXAMPLES:
        counter.add(int(count), [f"{symbol} {_EPOCH + timedelta(days=label)}".strip()])
    else:
        counter.count += int(count)


def _weekday(label: int) -> int:
    return (label + 3) % 7  # 1970-01-01 was a Thursday (3)


def coverage_table(
    records: Iterable[Mapping[str, Any]],
    calendar: str | None = None,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> pa.Table:
    """``symbol, session, status, rows, density`` of a dataset's sidecar records; see
    :func:`coverage`."""
    return coverage(records, calendar, start, end).table


__all__ = [
    "MAX_EXAMPLES",
    "Coverage",
    "SessionCounts",
    "coverage",
    "coverage_table",
    "merge_sessions",
]
