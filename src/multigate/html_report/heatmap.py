"""The data behind the report's pictures, and how it is embedded in the page safely.

The coverage heatmap has one row per symbol and one column per session, or per week or
month when there are many sessions. A column keeps how many of its days had each status
(``"P20H1"``: 20 present, 1 holiday), so a month with one missing day is drawn mostly
green with a red band, and a holiday never makes a month look worse than its sessions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from multigate.quality.coverage import Coverage

STATUS_CODES = {"present": "P", "partial": "p", "missing": "M", "holiday": "H", "closed_data": "C"}
"""One letter per status in a heatmap cell (the page's script reads the same letters)."""
CELL_ORDER = "PpCMH"
MAX_COLUMNS = 250
"""More sessions than this: the heatmap shows weeks, or months, so each cell stays visible."""
_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def script_json(data: object) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element: no ``<``, ``>`` or ``&``
    (so no ``</script>`` or ``<!--`` can end or change the element) and no U+2028/9."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return "".join(_SCRIPT_ESCAPES.get(ch, ch) for ch in text)


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


def encode_cell(counts: dict[str, int]) -> str:
    """``{"P": 20, "H": 1}`` -> ``"P20H"``: each letter in CELL_ORDER, its count after it
    when more than one; ``""`` for a column without a day of that symbol."""
    return "".join(
        code + (str(counts[code]) if counts[code] > 1 else "")
        for code in CELL_ORDER
        if counts.get(code)
    )


def _row(line: list[dict[str, int]]) -> str | list[str]:
    """A symbol's cells: one string when every cell is one day (``.``: none), else a list."""
    if all(sum(cell.values()) <= 1 for cell in line):
        return "".join(next(iter(cell), ".") for cell in line)
    return [encode_cell(cell) for cell in line]


def heatmap_data(covered: Coverage) -> dict[str, Any]:
    """``symbols``, ``sessions`` (each column's first day), ``period``, ``cells`` (per
    symbol, per column: :func:`encode_cell`; a string of letters when each cell is one day
    or none, ``.``), ``rows`` per symbol and column, ``totals``."""
    table = covered.table
    sessions_of = table.column("session").to_pylist()
    period = heatmap_period(sessions_of)
    starts = {d: _period_start(d, period).isoformat() for d in set(sessions_of)}
    days = [starts[d] for d in sessions_of]
    symbols = table.column("symbol").to_pylist()
    statuses = table.column("status").to_pylist()
    rows = table.column("rows").to_pylist()
    columns = sorted(set(days))
    position = {day: i for i, day in enumerate(columns)}
    names = sorted(set(symbols))
    row_of = {name: i for i, name in enumerate(names)}
    grid: list[list[dict[str, int]]] = [[{} for _ in columns] for _ in names]
    counts = [[0] * len(columns) for _ in names]
    totals = [0] * len(columns)
    for symbol, day, status, count in zip(symbols, days, statuses, rows, strict=True):
        col, line = position[day], row_of[symbol]
        code = STATUS_CODES.get(status)
        if code:
            cell = grid[line][col]
            cell[code] = cell.get(code, 0) + 1
        counts[line][col] += count
        totals[col] += count
    return {
        "symbols": names,
        "sessions": columns,
        "period": period,
        "cells": [_row(line) for line in grid],
        "rows": counts,
        "totals": totals,
    }
