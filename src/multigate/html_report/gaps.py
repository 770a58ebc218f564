"""The report's list of gaps: missing sessions (runs of them as one line), partial sessions
with the hours their data covers, data on closed days, and intraday holes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from multigate.html_report.series import Hole
from multigate.quality.calendars import sessions_between
from multigate.quality.coverage import Coverage, merge_sessions

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


def _missing_runs(covered: Coverage) -> list[Gap]:
    """Consecutive missing sessions of a symbol as one line (closed days between them do
    not break a run)."""
    gaps: list[Gap] = []
    run: list[date] = []
    current = ""

    def close() -> None:
        if run:
            when = str(run[0]) if len(run) == 1 else f"{run[0]} .. {run[-1]}"
            count = f"{len(run)} session{'s' if len(run) > 1 else ''} without data"
            gaps.append(Gap(current, "missing", when, count))
        run.clear()

    for row in covered.table.to_pylist():
        if row["symbol"] != current:
            close()
            current = row["symbol"]
        if row["status"] == "missing":
            run.append(row["session"])
        elif row["status"] != "holiday":
            close()
    close()
    return gaps


def _partial(covered: Coverage, records: Sequence[Mapping[str, Any]]) -> list[Gap]:
    partial = [r for r in covered.table.to_pylist() if r["status"] == "partial"]
    if not partial:
        return []
    merged = merge_sessions(records)
    gaps = []
    for row in partial:
        symbol, day = row["symbol"], row["session"]
        label = (day - _EPOCH).days
        cell = merged.cells.get(symbol, {}).get(label)
        calendar = merged.calendars.get(symbol)
        detail = ""
        if cell is not None:
            detail = f"data {_clock(cell.first)} .. {_clock(cell.last)} UTC"
            if calendar:
                hours = sessions_between(calendar, day, day)
                if len(hours.labels):
                    opens, closes = int(hours.opens[0]), int(hours.closes[0])
                    detail += f"; session {_clock(opens)} .. {_clock(closes)} UTC"
        gaps.append(Gap(symbol, "partial", str(day), detail))
    return gaps


def _closed(covered: Coverage) -> list[Gap]:
    return [
        Gap(r["symbol"], "closed day", str(r["session"]), f"{r['rows']:,} rows on a closed day")
        for r in covered.table.to_pylist()
        if r["status"] == "closed_data"
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
    covered: Coverage, records: Sequence[Mapping[str, Any]], holes: Sequence[Hole] = ()
) -> list[Gap]:
    """Every gap of a dataset, by symbol then time (see the module doc)."""
    found = _missing_runs(covered) + _partial(covered, records) + _closed(covered)
    found += _holes(holes)
    return sorted(found, key=lambda g: (g.symbol, g.when, g.kind))


def shown_gaps(gaps: Sequence[Gap]) -> tuple[list[Gap], int]:
    """The first MAX_GAPS gaps and how many more there are."""
    return list(gaps[:MAX_GAPS]), max(0, len(gaps) - MAX_GAPS)
