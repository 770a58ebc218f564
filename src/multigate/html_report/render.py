"""``multigate report``: one self-contained HTML page built from sidecars (no Parquet read).

Per dataset: a symbol x session coverage heatmap (present / partial / missing / holiday /
data on a closed day), rows per session, the quality findings and the snapshots; then the
Databento spend per job (quoted vs paid) from the ledger. Everything is inline (CSS, JS,
data as JSON; drawn on <canvas>): the file opens from disk with no network.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from multigate.html_report.assets import PAGE_CSS, PAGE_JS
from multigate.html_report.spend import spend_by_job
from multigate.quality.checks import CHECKS
from multigate.quality.coverage import Coverage, coverage
from multigate.quality.results import DATASET_OUTPUT, quality_rows

STATUS_CODES = {"present": "P", "partial": "p", "missing": "M", "holiday": "H", "closed_data": "C"}
"""One letter per heatmap cell; ``.`` marks a day that is not shown for that symbol."""
RANK = {".": 0, "P": 1, "H": 2, "p": 3, "C": 4, "M": 5}
"""A week's or month's cell shows its worst day (the page's script ranks the same way)."""
MAX_COLUMNS = 250
"""More sessions than this: the heatmap shows weeks, or months, so each cell stays visible."""

DatasetInput = tuple[str, Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]
"""(dataset name, its outputs' sidecar records, its snapshots as dicts)."""


def render_report(
    datasets: Sequence[DatasetInput],
    ledger: Iterable[Mapping[str, Any]] = (),
    *,
    title: str = "Multigate data report",
    generated_at: datetime | None = None,
) -> str:
    """The whole report as one HTML document (see the module doc)."""
    when = (generated_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections, summary = [], []
    for index, (name, records, snapshots) in enumerate(datasets):
        covered = coverage(records)
        findings = quality_rows(records, covered=covered)
        summary.append(_summary_row(index, name, records, covered, findings, snapshots))
        sections.append(_dataset_section(index, name, records, covered, findings, snapshots))
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Generated {_e(when)} from sidecars; no data file was read.</p>',
        _legend(),
        "<h2>Datasets</h2>",
        _table(
            [
                "dataset",
                "calendar",
                "symbols",
                "sessions",
                "rows",
                "files",
                "size",
                "coverage",
                "partial",
                "closed-day data",
                "failing rows",
                "snapshots",
            ],
            summary,
            raw_columns={0},
        ),
        *sections,
        _spend_section(ledger),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{PAGE_CSS}</style></head><body>"
        + "\n".join(body)
        + f"<script>{PAGE_JS}</script></body></html>\n"
    )


def _moment(value: object) -> datetime | None:
    """A sidecar time (ISO text, any precision; naive means UTC), or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shown(moment: datetime) -> str:
    """One format for every dataset's time range: seconds, in UTC."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _failing_total(findings: Sequence[Mapping[str, Any]]) -> int:
    total = 0
    for row in findings:
        info = CHECKS.get(str(row["check"]))
        if row["count"] and (info is None or info.fails_strict):
            total += int(row["count"])
    return total


def coverage_share(covered: Coverage) -> str:
    """Present sessions / expected (open) sessions, over every symbol: a partial session
    or a missing one does not count as covered; data on a closed day is not expected."""
    statuses = covered.table.column("status").to_pylist()
    expected = [s for s in statuses if s in ("present", "partial", "missing")]
    if not expected:
        return "-"
    return f"{100 * expected.count('present') / len(expected):.1f}%"


def _status_count(covered: Coverage, status: str) -> str:
    return f"{covered.table.column('status').to_pylist().count(status):,}"


def _summary_row(
    index: int,
    name: str,
    records: Sequence[Mapping[str, Any]],
    covered: Coverage,
    findings: Sequence[Mapping[str, Any]],
    snapshots: Sequence[Mapping[str, Any]],
) -> list[str]:
    sessions = len(set(covered.table.column("session").to_pylist()))
    symbols = {str(s) for r in records for s in r.get("symbols") or ()}
    rows = sum(int(r.get("rows") or 0) for r in records)
    size = sum(int((r.get("file") or {}).get("bytes") or 0) for r in records)
    return [
        f'<a href="#ds-{index}">{_e(name)}</a>',
        covered.calendar or "none (UTC days)",
        f"{len(symbols):,}",
        f"{sessions:,}",
        f"{rows:,}",
        f"{len(records):,}",
        _size(size),
        coverage_share(covered),
        _status_count(covered, "partial"),
        _status_count(covered, "closed_data"),
        f"{_failing_total(findings):,}",
        f"{len(snapshots):,}",
    ]


def _period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def heatmap_period(days: Iterable[date]) -> str:
    """The finest of day, week and month that keeps the heatmap within MAX_COLUMNS."""
    unique = set(days)
    for period in ("day", "week"):
        if len({_period_start(d, period) for d in unique}) <= MAX_COLUMNS:
            return period
    return "month"


def _heatmap_data(covered: Coverage) -> dict[str, Any]:
    table = covered.table
    symbols = table.column("symbol").to_pylist()
    period = heatmap_period(table.column("session").to_pylist())
    days = [_period_start(d, period).isoformat() for d in table.column("session").to_pylist()]
    statuses = table.column("status").to_pylist()
    rows = table.column("rows").to_pylist()
    sessions = sorted(set(days))
    position = {day: i for i, day in enumerate(sessions)}
    names = sorted(set(symbols))
    row_of = {name: i for i, name in enumerate(names)}
    grid = [["."] * len(sessions) for _ in names]
    counts = [[0] * len(sessions) for _ in names]
    totals = [0] * len(sessions)
    for symbol, day, status, count in zip(symbols, days, statuses, rows, strict=True):
        col, line = position[day], row_of[symbol]
        code = STATUS_CODES.get(status, ".")
        if RANK[code] > RANK[grid[line][col]]:
            grid[line][col] = code
        counts[line][col] += count
        totals[col] += count
    return {
        "symbols": names,
        "sessions": sessions,
        "period": period,
        "cells": ["".join(line) for line in grid],
        "rows": counts,
        "totals": totals,
    }


def _json_script(element_id: str, data: object) -> str:
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _dataset_section(
    index: int,
    name: str,
    records: Sequence[Mapping[str, Any]],
    covered: Coverage,
    findings: Sequence[Mapping[str, Any]],
    snapshots: Sequence[Mapping[str, Any]],
) -> str:
    starts = [t for r in records if (t := _moment(r.get("first_ts"))) is not None]
    ends = [t for r in records if (t := _moment(r.get("last_ts"))) is not None]
    span = f"{_shown(min(starts))} .. {_shown(max(ends))}" if starts and ends else "no rows"
    density = (
        "" if covered.density is None else f"; bar density in session hours {covered.density:.1%}"
    )
    parts = [
        f'<section id="ds-{index}"><h2>{_e(name)}</h2>',
        f'<p class="meta">{_e(span)}; calendar {_e(covered.calendar or "none (UTC days)")}'
        f"{_e(density)}</p>",
    ]
    if covered.table.num_rows:
        parts += [
            "<h3>Coverage (symbol x session)</h3>",
            _json_script(f"data-{index}", _heatmap_data(covered)),
            f'<div class="chart"><canvas class="heatmap" data-source="data-{index}"></canvas>'
            '<div class="tip"></div></div>',
            "<h3>Rows per session</h3>",
            f'<div class="chart"><canvas class="rows" data-source="data-{index}"></canvas></div>',
        ]
    else:
        parts.append("<p>No sessions: the outputs hold no rows (or no quality data).</p>")
    parts.append("<h3>Quality findings</h3>")
    found = [row for row in findings if row["count"]]
    if found:
        body = []
        for row in sorted(found, key=lambda r: (str(r["check"]), str(r["output"]))):
            info = CHECKS.get(str(row["check"]))
            level = "FAIL" if info is None or info.fails_strict else "info"
            output = "all outputs" if row["output"] == DATASET_OUTPUT else row["output"]
            body.append(
                [
                    f'<span class="{level.lower()}">{level}</span>',
                    _e(row["check"]),
                    f"{int(row['count']):,}",
                    _e(output),
                    _e(", ".join(row["examples"])),
                ]
            )
        parts.append(
            _table(["", "check", "count", "output", "examples"], body, raw_columns={0, 1, 3, 4})
        )
    else:
        parts.append("<p>No findings.</p>")
    parts.append("<h3>Snapshots</h3>")
    parts.append(_snapshots(name, snapshots))
    parts.append("</section>")
    return "\n".join(parts)


def _snapshots(name: str, snapshots: Sequence[Mapping[str, Any]]) -> str:
    """The snapshots that changed this dataset; a run's other datasets are only counted."""
    if not snapshots:
        return "<p>No snapshots recorded.</p>"
    columns: list[str] = []
    for snap in snapshots:
        columns += [key for key in snap if key not in columns and key != "datasets"]
    with_others = any("datasets" in snap for snap in snapshots)
    rows = []
    for snap in snapshots:
        row = [_cell(snap.get(key)) for key in columns]
        if with_others:
            others = [d for d in snap.get("datasets") or () if d != name]
            row.append(f"{len(others):,}")
        rows.append(row)
    return _table([*columns, "other datasets changed"] if with_others else columns, rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ", ".join(_cell(item) for item in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value)


def _spend_section(ledger: Iterable[Mapping[str, Any]]) -> str:
    spends = spend_by_job(ledger)
    parts = ['<section id="spend"><h2>Databento spend per job</h2>']
    if not spends:
        parts.append("<p>No Databento ledger entries.</p></section>")
        return "\n".join(parts)
    rows = [
        [
            s.job,
            f"${s.quoted_usd:,.2f}",
            f"${s.paid_usd:,.2f}",
            f"{s.estimates:,}",
            f"{s.attempts:,} ({s.failed_attempts:,} failed"
            + (f", {s.unpriced_attempts:,} at an unknown price)" if s.unpriced_attempts else ")"),
            f"{s.downloads:,}",
        ]
        for s in spends
    ]
    rows.append(["total", f"${sum(s.quoted_usd for s in spends):,.2f}",
                 f"${sum(s.paid_usd for s in spends):,.2f}", "", "", ""])  # fmt: skip
    parts.append(
        _table(["job", "quoted", "paid", "quotes", "billable attempts", "downloads"], rows)
    )
    parts.append(
        '<p class="meta">Quoted: the latest quote of every chunk. Paid: billable attempts at '
        "their quoted price (error answers cost nothing; a broken stream counts in full).</p>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    raw_columns: frozenset[int] | set[int] = frozenset(),
) -> str:
    """An HTML table; cells are escaped except in ``raw_columns`` (already HTML)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    lines = []
    for row in rows:
        cells = "".join(
            f"<td>{cell if i in raw_columns else _e(cell)}</td>" for i, cell in enumerate(row)
        )
        lines.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _legend() -> str:
    items = [
        ("present", "present"),
        ("partial", "partial session"),
        ("missing", "missing session"),
        ("holiday", "exchange closed"),
        ("closed_data", "data on a closed day"),
    ]
    spans = "".join(f'<span><i class="sw {key}"></i>{_e(label)}</span>' for key, label in items)
    return f'<p class="legend">{spans}</p>'
