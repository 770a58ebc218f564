"""Parse CBOE and FRED daily index CSVs into one typed table, keeping every row.

CBOE: ``DATE,OPEN,HIGH,LOW,CLOSE`` with ``MM/DD/YYYY`` dates; early years are close-only
(O=H=L=C) and some rows have OPEN outside [LOW, HIGH]. FRED: ``observation_date,VIXCLS``
(older files ``DATE,VIXCLS``) with empty or ``.`` values on holidays. Quirky rows are kept
and counted, never dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from multigate.errors import DataError

OUTPUT_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("symbol", pa.string()),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
    ]
)

FRED_SERIES_SYMBOLS = {
    "VIXCLS": "VIX",
    "VXVCLS": "VIX3M",
    "VXNCLS": "VXN",
    "VXDCLS": "VXD",
    "RVXCLS": "RVX",
    "EVZCLS": "EVZ",
    "OVXCLS": "OVX",
    "GVZCLS": "GVZ",
}
_CBOE_HEADER = ["DATE", "OPEN", "HIGH", "LOW", "CLOSE"]
_FRED_DATE_HEADERS = {"DATE", "OBSERVATION_DATE"}
_MISSING = {"", "."}
_CBOE_FILE = re.compile(r"^(?P<symbol>[A-Za-z0-9]+)_History\.csv$", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedCsv:
    """Rows of one file and which format they came in."""

    table: pa.Table
    flavor: str  # "cboe" or "fred"
    series: str | None  # FRED series id


def symbol_from_filename(name: str) -> str | None:
    match = _CBOE_FILE.match(name)
    return match.group("symbol").upper() if match else None


def symbol_from_header(path: Path) -> str | None:
    """The symbol a FRED file's series column names (``VIXCLS`` -> ``VIX``), if known."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            header = [cell.strip().upper() for cell in handle.readline().split(",")]
    except OSError:
        return None
    if len(header) == 2 and header[0] in _FRED_DATE_HEADERS:
        return FRED_SERIES_SYMBOLS.get(header[1])
    return None


def parse_index_csv(data: bytes, origin: str, symbol: str | None) -> ParsedCsv:
    """Parse ``data`` (named ``origin`` in errors). ``symbol`` may be None for FRED files
    whose series is known."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{origin}: not a text CSV ({exc.reason} at byte {exc.start})") from None
    lines = text.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        raise DataError(f"{origin}: empty file, expected a CBOE or FRED CSV")
    header = [cell.strip().upper() for cell in lines[header_index].split(",")]
    if header == _CBOE_HEADER:
        flavor, series = "cboe", None
    elif len(header) == 2 and header[0] in _FRED_DATE_HEADERS and header[1]:
        flavor, series = "fred", header[1]
    else:
        shown = lines[header_index][:80]
        raise DataError(
            f"{origin}: not a CBOE (DATE,OPEN,HIGH,LOW,CLOSE) or FRED (DATE,<SERIES>) CSV; "
            f"first line is '{shown}'"
        )
    if symbol is None and series is not None:
        symbol = FRED_SERIES_SYMBOLS.get(series)
    if symbol is None:
        raise DataError(
            f"{origin}: cannot tell the symbol; name the file <SYMBOL>_History.csv "
            "or set 'symbol:' on the job"
        )

    width = len(header)
    dates: list[date] = []
    columns: list[list[float | None]] = [[] for _ in range(4)]
    for number, line in enumerate(lines[header_index + 1 :], start=header_index + 2):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != width:
            raise DataError(
                f"{origin}:{number}: expected {width} fields, got {len(cells)} "
                "(truncated or not a CSV?)"
            )
        dates.append(_parse_date(cells[0], origin, number))
        values = [_parse_value(cell, origin, number) for cell in cells[1:]]
        if flavor == "fred":
            values = [None, None, None, values[0]]
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if not dates:
        raise DataError(f"{origin}: header only, no rows")

    table = pa.table(
        {
            "date": pa.array(dates, pa.date32()),
            "symbol": pa.array([symbol] * len(dates), pa.string()),
            "open": pa.array(columns[0], pa.float64()),
            "high": pa.array(columns[1], pa.float64()),
            "low": pa.array(columns[2], pa.float64()),
            "close": pa.array(columns[3], pa.float64()),
        },
        schema=OUTPUT_SCHEMA,
    )
    return ParsedCsv(table=_sorted_unique(table, origin), flavor=flavor, series=series)


def _sorted_unique(table: pa.Table, origin: str) -> pa.Table:
    table = table.sort_by([("symbol", "ascending"), ("date", "ascending")])
    dates = table["date"].to_pylist()
    keep = [True] * len(dates)
    rows = None
    for i in range(1, len(dates)):
        if dates[i] != dates[i - 1]:
            continue
        rows = rows or table.to_pylist()
        if rows[i] != rows[i - 1]:
            raise DataError(f"{origin}: two different rows for {dates[i].isoformat()}")
        keep[i] = False
    return table if all(keep) else table.filter(pa.array(keep))


def _parse_date(cell: str, origin: str, number: int) -> date:
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(cell, fmt).date()
        except ValueError:
            continue
    raise DataError(f"{origin}:{number}: bad date '{cell}' (expected MM/DD/YYYY or YYYY-MM-DD)")


def _parse_value(cell: str, origin: str, number: int) -> float | None:
    if cell in _MISSING:
        return None
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"{origin}:{number}: bad number '{cell}'") from None
    if not math.isfinite(value):
        raise DataError(f"{origin}:{number}: bad number '{cell}'")
    return value
