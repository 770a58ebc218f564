"""HTML of a dataset's pictures: price lines with volume bars per symbol, null counts per
column, and the list of gaps. Text is escaped; data goes in as script-safe JSON."""

from __future__ import annotations

import html
from collections.abc import Sequence

from multigate.html_report.gaps import Gap
from multigate.html_report.heatmap import script_json
from multigate.html_report.series import Pictures

MAX_SYMBOL_CHARTS = 12
"""Price charts per dataset, at most (the first symbols by name; the rest are counted)."""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _rows(headers: Sequence[str], rows: Sequence[Sequence[object]], css: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    kind = f' class="{css}"' if css else ""
    return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _read_note(pictures: Pictures) -> str:
    note = (
        f"Read {pictures.rows_read:,} of {pictures.rows_total:,} rows "
        f"({pictures.files_read:,} of {pictures.files_total:,} files)"
    )
    if pictures.sampled:
        note += ": a sample of evenly spaced files and row groups (the row budget)"
    if pictures.unreadable:
        shown = ", ".join(pictures.unreadable[:3])
        note += f"; {len(pictures.unreadable):,} file(s) could not be read (e.g. {shown})"
    return note + "."


def values_section(index: int, pictures: Pictures) -> str:
    """Per symbol a price line with volume bars, then null counts per column."""
    parts = ["<h3>Prices and volume</h3>", f'<p class="meta">{_e(_read_note(pictures))}</p>']
    symbols = sorted(pictures.series)
    if symbols:
        shown = symbols[:MAX_SYMBOL_CHARTS]
        what = f"{pictures.price_label} (last in each {pictures.bucket})"
        if pictures.volume_label:
            what += f"; bars: {pictures.volume_label} summed per {pictures.bucket}"
        parts.append(f'<p class="meta">Line: {_e(what)}; times in UTC.</p>')
        for k, symbol in enumerate(shown):
            element = f"series-{index}-{k}"
            parts.append(
                f'<script type="application/json" id="{element}">'
                f"{script_json(pictures.series[symbol])}</script>"
                f'<figure class="series"><figcaption>{_e(symbol)}</figcaption>'
                f'<div class="chart"><canvas class="price" data-source="{element}"></canvas>'
                '<div class="tip"></div></div></figure>'
            )
        if len(symbols) > len(shown):
            parts.append(
                f'<p class="meta">{len(symbols) - len(shown):,} more symbols not drawn.</p>'
            )
    else:
        parts.append("<p>No price to draw (reference records, or no readable rows).</p>")
    parts.append("<h3>Null counts per column</h3>")
    if pictures.nulls:
        footers = f"{pictures.footers_read:,} of {pictures.files_total:,} files"
        parts.append(
            '<p class="meta">Nulls from the Parquet footers (column statistics, '
            f"{_e(footers)}) where written, else counted in the {pictures.rows_read:,} rows "
            "read; NaN counted in the rows read.</p>"
        )
        rows = [
            [
                c.name,
                c.type,
                f"{c.nulls:,}" + ("" if c.from_footers else " (rows read)"),
                "-" if c.nan is None else f"{c.nan:,}",
            ]
            for c in pictures.nulls
        ]
        parts.append(_rows(["column", "type", "nulls", "NaN"], rows, "nulls"))
    else:
        parts.append("<p>No footer could be read.</p>")
    return "\n".join(parts)


def gaps_section(gaps: Sequence[Gap], more: int, pictures: Pictures | None) -> str:
    """Missing sessions, partial sessions, data on closed days and intraday holes."""
    parts = ["<h3>Gaps</h3>"]
    if pictures is None:
        searched = "intraday holes not searched (no data folder given)"
    elif pictures.holes_searched:
        searched = "intraday holes: no row for over 15 minutes (plus one bar) inside a session"
        if pictures.sampled:
            searched += ", searched in the rows read"
        if pictures.hole_count > len(pictures.holes):
            searched += f" ({pictures.hole_count:,} found, the first {len(pictures.holes):,} kept)"
    else:
        searched = "intraday holes: none to search (daily rows, or nothing read)"
    parts.append(f'<p class="meta">Sessions from the sidecars; {_e(searched)}.</p>')
    if gaps:
        rows = [[g.symbol, g.kind, g.when, g.detail] for g in gaps]
        parts.append(_rows(["symbol", "gap", "when", "detail"], rows, "gaps"))
        if more:
            parts.append(f'<p class="meta">{more:,} more gaps not listed.</p>')
    else:
        parts.append("<p>No gaps.</p>")
    return "\n".join(parts)
