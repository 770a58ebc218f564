"""What ``Catalog.bars``, ``continuous`` and the adjusted ``read``/``scan`` do: read what
they need through the catalog's public read path, then resample, roll or adjust it.

Kept out of ``catalog.py`` so the catalog only forwards; errors are ``ValueError`` (the
catalog reports them as CatalogError), so this package never imports the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from multigate.backtest.adjust import MODES, adjust
from multigate.backtest.resample import columns_needed, daily, interval_ns, resample
from multigate.datasets import profile_of

if TYPE_CHECKING:
    from multigate.catalog.catalog import Catalog


def bars(
    catalog: Catalog,
    name: str,
    every: str,
    symbols: str | Iterable[str] | None,
    start: Any,
    end: Any,
    calendar: str | None,
    read_options: Mapping[str, Any],
) -> pa.Table:
    """Bars of ``every`` from dataset ``name`` (its rows in ``[start, end)``)."""
    step = interval_ns(every)
    time_column = catalog.dataset(name).time_column
    columns = columns_needed(catalog.schema(name).names, time_column)
    table = catalog.read(name, symbols, start, end, columns=columns, **read_options)
    metadata = table.schema.metadata or {}
    if step is not None:
        result = resample(table, time_column, step)
    else:
        chosen = dataset_calendar(catalog, name, calendar)
        result, outside = daily(table, time_column, chosen)
        metadata = {
            **metadata,
            b"multigate.calendar": (chosen or "none").encode(),
            b"multigate.rows_outside_sessions": str(outside).encode(),
        }
    return result.replace_schema_metadata(metadata or None)


def dataset_calendar(catalog: Catalog, name: str, calendar: str | None) -> str | None:
    """``calendar`` (checked; ``"none"``: None), or the one dataset ``name`` follows."""
    if calendar is None:
        return calendar_of(catalog.sidecars(name))
    from multigate.quality.calendars import NO_CALENDAR, check_calendar_name

    return None if check_calendar_name(calendar) == NO_CALENDAR else calendar


def calendar_of(records: Iterable[Mapping[str, Any]]) -> str | None:
    """The exchange calendar a dataset's outputs follow (their quality record, else the
    default for their vendor dataset); ValueError when they disagree."""
    from multigate.quality.calendars import NO_CALENDAR, default_calendar

    found = set()
    for record in records:
        quality = record.get("quality") or {}
        own = quality["calendar"] if "calendar" in quality else default_calendar(record)
        found.add(None if own in (None, NO_CALENDAR) else str(own))
    if len(found) > 1:
        listed = ", ".join(sorted(name or "none" for name in found))
        raise ValueError(f"its outputs follow different calendars ({listed}): pass calendar=")
    return found.pop() if found else None


def adjusted_read(
    catalog: Catalog,
    name: str,
    selection: tuple[Any, Any, Any, Sequence[str] | None, Any],
    mode: str | None,
    adjustments: str | None,
) -> pa.Table:
    """``catalog.read(name, *selection)`` adjusted by the corporate actions of dataset
    ``adjustments`` (read as it is now, for the symbols read). The time and symbol columns
    are read for the adjustment even when ``columns`` leaves them out."""
    _check_adjust(mode, adjustments)
    assert mode is not None and adjustments is not None
    symbols, start, end, columns, as_of = selection
    wanted, columns = _with_keys(catalog, name, columns)
    table = catalog.read(name, symbols, start, end, columns=columns, as_of=as_of)
    result = adjusted(catalog, table, mode, adjustments)
    return result if wanted is None else result.select(wanted)


def adjusted(catalog: Catalog, table: pa.Table, mode: str, adjustments: str) -> pa.Table:
    """``table`` adjusted by the corporate actions of dataset ``adjustments``."""
    symbols = (
        table["symbol"].unique().drop_null().to_pylist() if "symbol" in table.column_names else []
    )
    events = events_of(catalog, adjustments, symbols)
    return adjust(table, profile_of(table.schema).time_column, events, mode)


def events_of(catalog: Catalog, adjustments: str, symbols: Iterable[str] | None) -> pa.Table:
    """The corporate-action events of dataset ``adjustments`` (for ``symbols``; None: all),
    as its vendor package reads them."""
    from multigate.sources.registry import adjustment_events

    source = catalog.dataset(adjustments).source
    to_events = adjustment_events(source)
    if to_events is None:
        raise ValueError(f"{adjustments}: {source} datasets hold no corporate actions")
    records = catalog.sidecars(adjustments)
    vendor = records[0].get("vendor", {}) if records else {}
    found = catalog.read(adjustments, symbols=symbols, allow_missing=True)  # no events: none
    return to_events(found, vendor)


def adjusted_scan(
    catalog: Catalog,
    name: str,
    selection: tuple[Any, Any, Any, Sequence[str] | None, Any],
    batch_rows: int,
    mode: str | None,
    adjustments: str | None,
) -> pa.RecordBatchReader:
    """``catalog.scan(...)`` with each batch adjusted as ``adjusted_read`` adjusts (the
    events are read once, before the first batch)."""
    _check_adjust(mode, adjustments)
    assert mode is not None and adjustments is not None
    symbols, start, end, columns, as_of = selection
    wanted, columns = _with_keys(catalog, name, columns)
    time_column = catalog.dataset(name).time_column
    chosen = None if symbols is None else [symbols] if isinstance(symbols, str) else symbols
    events = events_of(catalog, adjustments, chosen)
    reader = catalog.scan(name, symbols, start, end, columns, as_of, batch_rows)

    def adjusted_batch(table: pa.Table) -> pa.Table:
        result = adjust(table, time_column, events, mode).replace_schema_metadata(None)
        return result if wanted is None else result.select(wanted)

    schema = adjusted_batch(reader.schema.empty_table()).schema
    batches = (
        batch
        for raw in reader
        for batch in adjusted_batch(pa.Table.from_batches([raw])).to_batches()
    )
    return pa.RecordBatchReader.from_batches(schema, batches)


def _check_adjust(mode: str | None, adjustments: str | None) -> None:
    if mode is None:
        raise ValueError(f"adjustments='{adjustments}' needs adjust='splits' or 'all'")
    if mode not in MODES:
        raise ValueError(f"adjust={mode!r}: use None, 'splits' or 'all'")
    if adjustments is None:
        raise ValueError(
            "adjust needs adjustments='<dataset>': a dataset of corporate actions "
            "(e.g. a Databento adjustment-factors job)"
        )


def _with_keys(
    catalog: Catalog, name: str, columns: Sequence[str] | None
) -> tuple[list[str] | None, list[str] | None]:
    """The columns asked for, and those to read: with the time and symbol columns."""
    if columns is None:
        return None, None
    wanted = list(columns)
    keys = [catalog.dataset(name).time_column, "symbol"]
    present = catalog.schema(name).names
    return wanted, wanted + [key for key in keys if key in present and key not in wanted]


MONTH_CODES = "FGHJKMNQUVXZ"


def continuous_read(
    catalog: Catalog,
    name: str,
    root: str,
    options: Mapping[str, Any],
) -> pa.Table:
    """A continuous series of ``root``'s contracts in dataset ``name``."""
    import re

    from multigate.backtest.continuous import continuous

    symbols = options.get("symbols")
    if symbols is None:
        pattern = re.compile(rf"^{re.escape(root)}[{MONTH_CODES}]\d{{1,2}}$")
        symbols = [s for s in catalog.dataset(name).symbols if pattern.match(s)]
        if not symbols:
            raise ValueError(f"no contract of {root} (like {root}H4) in its symbols")
    table = catalog.read(name, symbols, options.get("start"), options.get("end"))
    calendar = dataset_calendar(catalog, name, options.get("calendar"))
    expirations = options.get("expirations")
    if isinstance(expirations, str):  # a dataset of definitions: symbol and expiration
        found = catalog.read(expirations, symbols, columns=["symbol", "expiration"])
        names, stamps = found["symbol"].to_pylist(), found["expiration"].to_pylist()
        expirations = dict(zip(names, stamps, strict=True))  # the latest definition wins
    time_column = profile_of(table.schema).time_column
    return continuous(
        table,
        time_column,
        calendar,
        options.get("roll", "volume"),
        options.get("adjust"),
        int(options.get("rank", 0)),
        expirations,
    )
