"""Databento reference records as the vendor-free corporate-action events the catalog
adjusts with (``multigate.backtest.adjust.EVENTS``), following Databento's documented
procedure: events with status ``A`` only, one factor per event (the vendor repeats an
event's row, e.g. once per currency or option: the first row of each event and symbol is
kept).

``adjustment-factors``: the vendor's ``factor`` (the price multiplier for records before
the ex-date); splits are the share-count events below. ``corporate-actions``: forward and
reverse splits only, factor ``ratio_old / ratio_new`` (cash dividends need the previous
close, which adjustment factors carry: use those for ``adjust="all"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

SPLIT_EVENTS = frozenset({"FSPLT", "RSPLT", "BON", "SD"})
"""Events that change the share count without paying cash: forward and reverse splits,
bonus issues and stock dividends (volumes are divided by their factors)."""
_CA_SPLITS = frozenset({"FSPLT", "RSPLT"})
_EMPTY = pa.schema(
    [
        ("symbol", pa.string()),
        ("ex_date", pa.date32()),
        ("event_id", pa.string()),
        ("event", pa.string()),
        ("factor", pa.float64()),
        ("split", pa.bool_()),
    ]
)


def adjustment_events(table: pa.Table, vendor: Mapping[str, Any]) -> pa.Table:
    """``symbol, ex_date, event_id, event, factor, split`` from a reference dataset's rows."""
    schema = vendor.get("schema")
    if table.num_rows == 0:  # an empty file has none of the vendor's columns
        return _EMPTY.empty_table()
    if schema == "adjustment-factors":
        event = _column(table, "event", "event_type")
        status = _column(table, "status")
        factor = table["factor"].cast(pa.float64())
    elif schema == "corporate-actions":
        event = _column(table, "event")
        status = _column(table, "global_status")
        ratio_old = table["ratio_old"].cast(pa.float64())
        ratio_new = table["ratio_new"].cast(pa.float64())
        factor = pc.divide(ratio_old, ratio_new)
        status = pc.if_else(pc.is_in(event, pa.array(sorted(_CA_SPLITS))), status, None)
    else:
        raise ValueError(
            f"a Databento dataset of schema '{schema}' holds no corporate actions; "
            "use an adjustment-factors (or corporate-actions) job's dataset"
        )
    events = pa.table(
        {
            "symbol": table["symbol"].cast(pa.string()),
            "ex_date": table["ex_date"].cast(pa.date32()),
            "event_id": table["event_id"].cast(pa.string()),
            "event": event,
            "factor": factor,
            "split": pc.is_in(event, pa.array(sorted(SPLIT_EVENTS))),
        }
    )
    applied = pc.fill_null(pc.equal(status, "A"), False)
    events = events.filter(applied)
    seen: set[tuple[str | None, str | None]] = set()
    keep = []
    for key in zip(events["symbol"].to_pylist(), events["event_id"].to_pylist(), strict=True):
        keep.append(key not in seen)
        seen.add(key)
    return events.filter(pa.array(keep, pa.bool_()))


def _column(table: pa.Table, *names: str) -> pa.ChunkedArray:
    for name in names:
        if name in table.column_names:
            return table[name].cast(pa.string())
    raise ValueError(f"no {' or '.join(names)} column: not Databento reference data")
