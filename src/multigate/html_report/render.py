"""``multigate report``: one self-contained HTML page built from sidecars, with pictures of
the values read within a budget (:mod:`multigate.html_report.series`).

Per dataset: which calendar and hours judge it; sessions with data and complete sessions; a
symbol x session coverage heatmap (present / partial / missing / holiday / data on a closed
day) and rows per session; per symbol a price line with volume bars; the gaps (missing
sessions, partial sessions, intraday holes); null counts per column; the quality findings
and the snapshots. Then the Databento spend per job (quoted vs paid) from the ledger.
Everything is inline (CSS, JS, data as JSON; drawn on <canvas>): the file opens from disk
with no network.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from multigate.html_report.assets import PAGE_CSS, PAGE_JS
from multigate.html_report.gaps import gap_list
from multigate.html_report.heatmap import heatmap_data, script_json
from multigate.html_report.pictures import gaps_section, values_section
from multigate.html_report.series import ROW_BUDGET, Pictures, dataset_pictures
from multigate.html_report.spend import spend_by_job
from multigate.quality.calendars import calendar_hours, symbol_calendars
from multigate.quality.checks import CHECKS
from multigate.quality.coverage import Coverage, coverage
from multigate.quality.results import DATASET_OUTPUT, quality_rows

DatasetInput = tuple[str, Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]
"""(dataset name, its outputs' sidecar records, its snapshots as dicts)."""


def render_report(
    datasets: Sequence[DatasetInput],
    ledger: Iterable[Mapping[str, Any]] = (),
    *,
    title: str = "Multigate data report",
    generated_at: datetime | None = None,
    data_dir: Path | None = None,
    row_budget: int = ROW_BUDGET,
) -> str:
    """The whole report as one HTML document (see the module doc). ``data_dir``: where the
    outputs are, for the pictures of their values (None: from the sidecars alone), read
    within ``row_budget`` rows per dataset."""
    when = (generated_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections, summary = [], []
    for index, (name, records, snapshots) in enumerate(datasets):
        covered = coverage(records)
        findings = quality_rows(records, covered=covered)
        pictures = None
        if data_dir is not None:
            pictures = dataset_pictures(
                data_dir, records, symbol_calendars(records).get, row_budget=row_budget
            )
        summary.append(_summary_row(index, name, records, covered, findings, snapshots))
        sections.append(
            _dataset_section(index, name, records, covered, findings, snapshots, pictures)
        )
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Generated {_e(when)} from sidecars'
        + (
            "; pictures of values read from the outputs within a row budget."
            if data_dir
            else "; no data file was read."
        )
        + "</p>",
        _legend(),
        "<h2>Datasets</h2>",
        _table(
            [
                "dataset",
                "judged by",
                "symbols",
                "sessions",
                "rows",
                "files",
                "size",
                "sessions with data",
                "complete sessions",
                "partial",
                "missing",
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


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def coverage_share(covered: Coverage) -> str:
    """Complete sessions / expected (open) sessions, over every symbol: a partial or a
    missing session is not complete; holidays and data on a closed day are not expected."""
    counts = covered.counts()
    return _share(counts.complete, counts.expected)


def with_data_share(covered: Coverage) -> str:
    """Sessions holding any data (complete or partial) / expected sessions."""
    counts = covered.counts()
    return _share(counts.with_data, counts.expected)


def judged_by(covered: Coverage, records: Sequence[Mapping[str, Any]]) -> str:
    """Which calendar and hours judge a dataset's sessions, in words."""
    kind = next(((r.get("quality") or {}).get("kind") for r in records), None)
    names: list[str | None] = [n.strip() for n in (covered.calendar or "").split(",") if n.strip()]
    names = names or [None]
    if any((r.get("quality") or {}).get("market_data") is False for r in records):
        return "none: reference records follow no sessions"
    if kind == "daily":
        return "; ".join(
            f"{name} trading days (daily rows: one per session)" if name else "every UTC day"
            for name in names
        )
    return "; ".join(calendar_hours(name) for name in names)


def _rules(covered: Coverage, records: Sequence[Mapping[str, Any]]) -> str:
    """How sessions are judged, in one line (none for UTC days or reference records)."""
    if not covered.calendar or any(
        (r.get("quality") or {}).get("market_data") is False for r in records
    ):
        return ""
    text = "Sessions, holidays and early closes come from the exchange calendar"
    if not any((r.get("quality") or {}).get("kind") == "daily" for r in records):
        text += (
            "; a session whose data starts more than 15 minutes after its open or ends more"
            " than 15 minutes before its close is partial"
        )
    return f'<p class="meta">{_e(text)}.</p>'


def _open_sessions(covered: Coverage) -> int:
    """Distinct days some symbol's exchange was open (closed days are not counted)."""
    table = covered.table
    expected = pc.is_in(
        table.column("status"), value_set=pa.array(["present", "partial", "missing"])
    )
    return len(pc.unique(table.filter(expected).column("session")))


def _summary_row(
    index: int,
    name: str,
    records: Sequence[Mapping[str, Any]],
    covered: Coverage,
    findings: Sequence[Mapping[str, Any]],
    snapshots: Sequence[Mapping[str, Any]],
) -> list[str]:
    sessions = _open_sessions(covered)
    symbols = {str(s) for r in records for s in r.get("symbols") or ()}
    rows = sum(int(r.get("rows") or 0) for r in records)
    size = sum(int((r.get("file") or {}).get("bytes") or 0) for r in records)
    counts = covered.counts()
    return [
        f'<a href="#ds-{index}">{_e(name)}</a>',
        judged_by(covered, records),
        f"{len(symbols):,}",
        f"{sessions:,}",
        f"{rows:,}",
        f"{len(records):,}",
        _size(size),
        with_data_share(covered),
        coverage_share(covered),
        f"{counts.partial:,}",
        f"{counts.missing:,}",
        f"{counts.closed_data:,}",
        f"{_failing_total(findings):,}",
        f"{len(snapshots):,}",
    ]


def _json_script(element_id: str, data: object) -> str:
    return f'<script type="application/json" id="{element_id}">{script_json(data)}</script>'


def _dataset_section(
    index: int,
    name: str,
    records: Sequence[Mapping[str, Any]],
    covered: Coverage,
    findings: Sequence[Mapping[str, Any]],
    snapshots: Sequence[Mapping[str, Any]],
    pictures: Pictures | None = None,
) -> str:
    starts = [t for r in records if (t := _moment(r.get("first_ts"))) is not None]
    ends = [t for r in records if (t := _moment(r.get("last_ts"))) is not None]
    span = f"{_shown(min(starts))} .. {_shown(max(ends))}" if starts and ends else "no rows"
    density = (
        "" if covered.density is None else f"; bar density in session hours {covered.density:.1%}"
    )
    counts = covered.counts()
    parts = [
        f'<section id="ds-{index}"><h2>{_e(name)}</h2>',
        f'<p class="meta">{_e(span)}; judged by {_e(judged_by(covered, records))}{_e(density)}</p>',
        _rules(covered, records),
        f'<p class="counts">Symbol-sessions with data: {counts.with_data:,} of {counts.expected:,} '
        f"({_share(counts.with_data, counts.expected)}); complete sessions (open to close): "
        f"{counts.complete:,} ({_share(counts.complete, counts.expected)}); partial "
        f"{counts.partial:,}; missing {counts.missing:,}; closed days (not expected) "
        f"{counts.holidays:,}; data on a closed day {counts.closed_data:,}.</p>",
    ]
    if covered.table.num_rows:
        data = heatmap_data(covered)
        column = "session" if data["period"] == "day" else data["period"]
        parts += [
            f"<h3>Coverage (symbol x {column})</h3>",
            _json_script(f"data-{index}", data),
            f'<div class="chart"><canvas class="heatmap" data-source="data-{index}"></canvas>'
            '<div class="tip"></div></div>',
            f"<h3>Rows per {column}</h3>",
            f'<div class="chart"><canvas class="rows" data-source="data-{index}"></canvas></div>',
        ]
    else:
        parts.append("<p>No sessions: the outputs hold no rows (or no quality data).</p>")
    if pictures is not None:
        parts.append(values_section(index, pictures))
    holes = pictures.holes if pictures else ()
    gaps, more = gap_list(covered, records, holes)
    parts.append(gaps_section(gaps, more, pictures))
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
    note = (
        " A week's or month's column is split into bands by its days' statuses; a closed day"
        " takes no room unless the whole column is closed."
    )
    return f'<p class="legend">{spans}<span class="meta">{_e(note)}</span></p>'
