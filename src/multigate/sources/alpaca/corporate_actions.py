"""Alpaca corporate actions (saved bodies of ``GET /v1/corporate-actions``) into one
Parquet file, and those rows as the events ``Catalog.read(adjust=...)`` applies.

A body is ``{"corporate_actions": {"forward_splits": [...], "cash_dividends": [...], ...},
"next_page_token": ...}``; each action becomes one row with its ``type`` (the list it
came in), ``date`` (its ex-date, the catalog's time column) and its fields: dates as
dates, rates as numbers, the rest as strings. Events: splits (forward, reverse, unit)
have factor ``old_rate / new_rate``; stock dividends ``1 / (1 + rate)``; cash dividends
``1 - rate / previous close``, the close taken from the rows being adjusted.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from multigate.engine.tasks import ConvertOutput
from multigate.errors import DataError
from multigate.storage.parquet import write_parquet

CONVERTER = "alpaca-corporate-actions"
CONVERTER_VERSION = "1"
_DATES = ("ex_date", "record_date", "payable_date", "process_date", "effective_date")
_NUMBERS = ("new_rate", "old_rate", "rate")
_SPLITS = ("forward_splits", "reverse_splits", "unit_splits")


def read_actions(path: Path) -> list[dict[str, Any]]:
    """Every action of one saved body, with its ``type``."""
    try:
        raw = path.read_bytes()
        body = json.loads(gzip.decompress(raw) if path.name.endswith(".gz") else raw)
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path.name}: not a corporate-actions body ({exc})") from None
    actions = body.get("corporate_actions") if isinstance(body, dict) else None
    if not isinstance(actions, dict):
        raise DataError(f"{path.name}: no 'corporate_actions' object (GET /v1/corporate-actions)")
    rows = []
    for kind, items in sorted(actions.items()):
        for item in items or []:
            if isinstance(item, dict):
                rows.append({"type": kind, **item})
    return rows


def to_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    names: dict[str, None] = {"type": None, "symbol": None, "id": None}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name in _DATES:
            columns[name] = pa.array(
                [None if v is None else date.fromisoformat(v) for v in values], pa.date32()
            )
        elif name in _NUMBERS:
            columns[name] = pa.array([None if v is None else float(v) for v in values])
        else:
            text = [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
            columns[name] = pa.array(text, pa.string())
    table = pa.table(columns)
    day = table["ex_date"] if "ex_date" in names else pa.nulls(len(rows), pa.date32())
    table = table.append_column("date", day)
    keys = [("date", "ascending"), ("symbol", "ascending")]
    return table.take(pc.sort_indices(table, sort_keys=keys))


def convert_actions(inputs: Sequence[Path], tmp: Path, params: Mapping[str, Any]) -> ConvertOutput:
    """Every saved body of the job into one Parquet file at ``tmp`` (an action listed in
    two bodies, a page fetched twice, is kept once: by ``id``)."""
    rows, seen = [], set()
    for path in inputs:
        for row in read_actions(path):
            key = row.get("id") or json.dumps(row, sort_keys=True)
            if key not in seen:
                seen.add(key)
                rows.append(row)
    try:
        table = to_table(rows)
    except (TypeError, ValueError) as exc:
        raise DataError(f"corporate actions: {exc}") from None
    write_parquet(table, tmp)
    days = table["date"].drop_null()
    return ConvertOutput(
        rows=table.num_rows,
        first_ts=str(pc.min(days).as_py()) if len(days) else None,
        last_ts=str(pc.max(days).as_py()) if len(days) else None,
        symbols=sorted(set(table["symbol"].drop_null().to_pylist())),
        vendor={"vendor": "Alpaca", "schema": "corporate-actions"},
    )


def adjustment_events(table: pa.Table, vendor: Mapping[str, Any]) -> pa.Table:
    """``symbol, ex_date, event_id, event, factor, split, cash`` of the actions."""
    out: dict[str, list[Any]] = {key: [] for key in ("symbol", "ex_date", "event_id", "event")}
    factor: list[float | None] = []
    split: list[bool] = []
    cash: list[float | None] = []
    for row in table.to_pylist():
        kind = row.get("type")
        if kind in _SPLITS and row.get("old_rate") and row.get("new_rate"):
            values = (row["old_rate"] / row["new_rate"], True, None)
        elif kind == "stock_dividends" and row.get("rate") is not None:
            values = (1.0 / (1.0 + row["rate"]), True, None)
        elif kind == "cash_dividends" and row.get("rate") is not None:
            values = (None, False, row["rate"])
        else:
            continue  # name changes, mergers, spin-offs...: no price factor here
        out["symbol"].append(row.get("symbol"))
        out["ex_date"].append(row.get("ex_date"))
        out["event_id"].append(row.get("id"))
        out["event"].append(kind)
        factor.append(values[0])
        split.append(values[1])
        cash.append(values[2])
    return pa.table(
        {
            "symbol": pa.array(out["symbol"], pa.string()),
            "ex_date": pa.array(out["ex_date"], pa.date32()),
            "event_id": pa.array(out["event_id"], pa.string()),
            "event": pa.array(out["event"], pa.string()),
            "factor": pa.array(factor, pa.float64()),
            "split": pa.array(split, pa.bool_()),
            "cash": pa.array(cash, pa.float64()),
        }
    )
