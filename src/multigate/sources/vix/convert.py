"""One VIX symbol's files into one Parquet file: the convert function the engine runs
(in this process or a worker), and the summary notes of an output kept as it was."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from multigate.engine.tasks import ConvertOutput
from multigate.sources.vix.inputs import read_job_inputs
from multigate.sources.vix.quirks import QuirkCounts, count_quirks
from multigate.storage.parquet import write_parquet

CONVERTER = "vix-csv"
CONVERTER_VERSION = "2"  # 2: files of one symbol merge; close-only rows counted
_VENDORS = {"cboe": "CBOE", "fred": "FRED"}


def convert_symbol(inputs: Sequence[Path], tmp: Path, params: Mapping[str, Any]) -> ConvertOutput:
    """Read, window and merge the CSVs of ``params['symbol']``; write Parquet to ``tmp``."""
    symbol = params["symbol"]
    found = read_job_inputs(
        [(path, symbol) for path in inputs],
        lambda table: within(table, params.get("start"), params.get("end")),
    )
    found.check()
    data = found.symbols[symbol]
    table = data.table
    write_parquet(table, tmp)
    quirks = count_quirks(table)
    return ConvertOutput(
        rows=table.num_rows,
        first_ts=str(table["date"][0]) if table.num_rows else None,
        last_ts=str(table["date"][-1]) if table.num_rows else None,
        symbols=[symbol],
        vendor={
            "vendor": "+".join(_VENDORS[flavor] for flavor in data.flavors),
            "format": "+".join(data.flavors),
            "series": ",".join(data.series) or None,
        },
        extra={**quirks.sidecar(), "dates_in_several_files": data.shared_dates},
        warnings=_warnings(symbol, quirks, table.num_rows),
        notes=[f"{symbol}: {fact}" for fact in quirks.facts()],
    )


def notes_from_sidecar(record: Mapping[str, Any]) -> list[str]:
    """The same summary notes for an output that is current (from what its sidecar counts)."""
    extra = record.get("extra") or {}
    symbol = (record.get("symbols") or ["?"])[0]
    quirks = QuirkCounts(
        inconsistent=int(extra.get("inconsistent_rows") or 0),
        missing_close=int(extra.get("missing_close_rows") or 0),
        close_only=int(extra.get("close_only_rows") or 0),
    )
    notes = _warnings(symbol, quirks, int(record.get("rows") or 0))
    return notes + [f"{symbol}: {fact}" for fact in quirks.facts()]


def _warnings(symbol: str, quirks: QuirkCounts, rows: int) -> list[str]:
    found = [f"{symbol}: {text}" for text in quirks.problems()]
    if rows == 0:
        found.append(f"{symbol}: no rows inside the job's start/end window")
    return found


def within(table: pa.Table, start: date | None, end: date | None) -> pa.Table:
    """Rows inside the optional [start, end] date window."""
    if start is not None:
        table = table.filter(pc.greater_equal(table["date"], pa.scalar(start, pa.date32())))
    if end is not None:
        table = table.filter(pc.less_equal(table["date"], pa.scalar(end, pa.date32())))
    return table
