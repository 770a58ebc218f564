"""What a dataset's values look like, for the report: per symbol a price line (bars' close,
trades' price, a book's mid) and volume bars over the dataset's span, null counts per
column, and intraday holes (no row for a while inside a session's hours).

Reads little, so a report of a big lake stays quick: null counts come from Parquet footers
(column statistics) where they were written, else are counted in the rows read; NaN values
are counted in the rows read. Rows are read within a budget: over it, evenly spaced files
(and row groups of a big file) are read, and the page says so. A file it
cannot read is counted and named, never fatal: the report still shows the sidecars' view.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from multigate.datasets import TableKind, profile_of
from multigate.quality.assess import session_labels

ROW_BUDGET = 500_000
"""Rows read per dataset for its pictures, at most (one row group may overshoot)."""
FOOTER_BUDGET = 2_000
"""Files whose footer is read for the null counts, at most (evenly spaced beyond it)."""
MAX_POINTS = 600
"""Points per symbol's line, at most: the span is cut into buckets of one ladder step."""
HOLE_NS = 15 * 60 * 10**9
"""A hole: no row for this long (plus one bar) inside one session's hours."""
MAX_HOLES = 200
_MINUTE, _DAY = 60 * 10**9, 86_400 * 10**9
BUCKETS = (
    (_MINUTE, "1 minute"), (5 * _MINUTE, "5 minutes"), (15 * _MINUTE, "15 minutes"),
    (30 * _MINUTE, "30 minutes"), (60 * _MINUTE, "1 hour"), (240 * _MINUTE, "4 hours"),
    (_DAY, "1 day"), (7 * _DAY, "1 week"), (30 * _DAY, "30 days"), (91 * _DAY, "91 days"),
    (365 * _DAY, "365 days"),
)  # fmt: skip
_UNDEF_FIXED = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Hole:
    symbol: str
    start_ns: int
    end_ns: int


@dataclass
class ColumnNulls:
    """A column's missing values: ``nulls`` from the footers read (``from_footers``) or
    counted in the rows read; ``nan``: NaN values in the rows read (None: not a float)."""

    name: str
    type: str
    nulls: int
    from_footers: bool
    nan: int | None


@dataclass
class Pictures:
    """One dataset's pictures (see the module doc); ``series`` by symbol: ``t`` the time of
    each bucket's last price (ms since the epoch; the bucket's start when it has none),
    ``c`` that price, ``v`` the bucket's summed volume (None without a volume column), ``w``
    the bucket's width in ms."""

    price_label: str | None = None
    volume_label: str | None = None
    bucket: str = ""
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    nulls: list[ColumnNulls] = field(default_factory=list)
    rows_total: int = 0
    rows_read: int = 0
    files_total: int = 0
    files_read: int = 0
    footers_read: int = 0
    holes: list[Hole] = field(default_factory=list)
    hole_count: int = 0
    holes_searched: bool = False
    unreadable: list[str] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        return self.rows_read < self.rows_total


def _price_columns(names: set[str], kind: TableKind) -> tuple[str | None, str | None, str]:
    """(price column, volume column, what the price is) of a table; price None: no line."""
    if kind in (TableKind.BARS, TableKind.DAILY):
        return "close", "volume" if "volume" in names else None, "close"
    if kind == TableKind.BOOK:
        return "bid_px_00", None, "mid (bid_px_00 + ask_px_00) / 2"
    if "price" in names and "stat_type" not in names and "action" in names:
        return "price", "size" if "size" in names else None, "price"
    return None, None, ""


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """Prices as float64; Databento fixed prices (int64, 1e-9 units, max = undefined) too."""
    if pa.types.is_integer(column.type):
        raw = np.asarray(column.fill_null(_UNDEF_FIXED).to_numpy(), dtype=np.int64)
        values = raw.astype(np.float64) / 1e9
        values[raw == _UNDEF_FIXED] = np.nan
        return values
    return np.asarray(column.cast(pa.float64()).fill_null(np.nan).to_numpy(), np.float64)


def _quantities(column: pa.ChunkedArray) -> np.ndarray:
    """Volumes and sizes as float64 (null: 0)."""
    return np.asarray(column.cast(pa.float64()).fill_null(0.0).to_numpy(), np.float64)


def _times_ns(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_date(column.type):
        days = column.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy()
        return np.asarray(days, np.int64) * _DAY
    ns = column.cast(pa.timestamp("ns", tz=getattr(column.type, "tz", None))).cast(pa.int64())
    return np.asarray(ns.fill_null(0).to_numpy(), np.int64)


def _spaced(items: Sequence[Any], weights: Sequence[int], budget: int) -> list[int]:
    """Indexes of evenly spaced ``items`` whose weights sum to about ``budget`` (all when
    they fit); at least one."""
    total = sum(weights)
    if total <= budget or not items:
        return list(range(len(items)))
    step = max(1, math.ceil(total / max(budget, 1)))
    chosen = list(range(0, len(items), step))
    return chosen or [0]


def bucket_for(span_ns: int) -> tuple[int, str]:
    """The finest ladder step that keeps a span within MAX_POINTS buckets."""
    for width, label in BUCKETS:
        if span_ns // width < MAX_POINTS:
            return width, label
    return BUCKETS[-1]


def dataset_pictures(
    data_dir: Path,
    records: Sequence[Mapping[str, Any]],
    calendar_of: Callable[[str], str | None],
    *,
    row_budget: int = ROW_BUDGET,
    footer_budget: int = FOOTER_BUDGET,
) -> Pictures:
    """The pictures of one dataset's outputs (``records``: their sidecars), reading at most
    about ``row_budget`` rows; ``calendar_of(symbol)``: the calendar judging its sessions."""
    ordered = sorted(records, key=lambda r: (str(r.get("first_ts") or ""), _name(r)))
    pictures = Pictures(files_total=len(ordered))
    pictures.rows_total = sum(int(r.get("rows") or 0) for r in ordered)
    quality = (ordered[0].get("quality") or {}) if ordered else {}
    market_data = quality.get("market_data") is not False
    footers = set(_spaced(ordered, [1] * len(ordered), footer_budget))
    reads = set(_spaced(ordered, [int(r.get("rows") or 0) for r in ordered], row_budget))
    per_file_budget = max(1, row_budget // max(len(reads), 1))
    nulls: dict[str, int | None] = {}
    counted: dict[str, list[int]] = {}
    types: dict[str, str] = {}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = []
    symbols: dict[str, int] = {}
    interval = int(quality.get("interval_ns") or 0)
    holes: list[Hole] = []
    for index, record in enumerate(ordered):
        if index not in footers and index not in reads:
            continue
        path = data_dir / _name(record)
        try:
            parquet = pq.ParquetFile(path)
            _add_nulls(nulls, parquet.metadata)
            pictures.footers_read += 1
            if index not in reads:
                continue
            found = _read(parquet, per_file_budget)
        except (OSError, ValueError, pa.ArrowException) as exc:
            pictures.unreadable.append(f"{_name(record)}: {type(exc).__name__}")
            continue
        kind, label, volume_name, table, whole = found
        _count_nulls(counted, types, table)
        pictures.files_read += 1
        pictures.rows_read += table.num_rows
        if label is None or not market_data:
            continue  # reference records: null counts only
        pictures.price_label = label
        pictures.volume_label = volume_name
        codes, times, prices, volumes = _columns(table, kind, volume_name, record, symbols)
        parts.append((codes, times, prices, volumes))
        if whole and kind not in (TableKind.DAILY,) and not _daily_stamps(times):
            pictures.holes_searched = True
            holes += _holes(codes, times, symbols, calendar_of, interval)
    pictures.nulls = _column_nulls(nulls, counted, types)
    pictures.hole_count = len(holes)
    pictures.holes = sorted(holes, key=lambda h: (h.symbol, h.start_ns))[:MAX_HOLES]
    if parts:
        _series(pictures, parts, symbols)
    return pictures


def _name(record: Mapping[str, Any]) -> str:
    return str((record.get("file") or {}).get("name") or "")


def _add_nulls(nulls: dict[str, int | None], meta: pq.FileMetaData) -> None:
    """Each column's null count from the footer's statistics (None: not written)."""
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        for i in range(row_group.num_columns):
            chunk = row_group.column(i)
            name = chunk.path_in_schema
            stats = chunk.statistics
            known = stats is not None and stats.has_null_count
            if name not in nulls:
                nulls[name] = 0
            if not known:
                nulls[name] = None
            elif nulls[name] is not None:
                nulls[name] = int(nulls[name] or 0) + int(stats.null_count)


def _count_nulls(counted: dict[str, list[int]], types: dict[str, str], table: pa.Table) -> None:
    """Add each column's nulls and NaN values in ``table`` to ``counted``."""
    for name in table.column_names:
        if name == "__time__":
            continue
        column = table.column(name)
        entry = counted.setdefault(name, [0, 0])
        entry[0] += column.null_count
        types.setdefault(name, str(column.type))
        if pa.types.is_floating(column.type):
            entry[1] += int(pc.sum(pc.is_nan(column).cast(pa.int64())).as_py() or 0)


def _column_nulls(
    footers: Mapping[str, int | None], counted: Mapping[str, list[int]], types: Mapping[str, str]
) -> list[ColumnNulls]:
    """Footer counts where every footer read had them, else the counts of the rows read."""
    out = []
    for name in sorted(set(footers) | set(counted)):
        in_footers = footers.get(name)
        nulls, nan = counted.get(name, [0, 0])
        floating = types.get(name, "").startswith(("float", "double", "halffloat"))
        out.append(
            ColumnNulls(
                name=name,
                type=types.get(name, ""),
                nulls=in_footers if in_footers is not None else nulls,
                from_footers=in_footers is not None,
                nan=nan if floating else None,
            )
        )
    return out


def _read(
    parquet: pq.ParquetFile, budget: int
) -> tuple[TableKind, str | None, str | None, pa.Table, bool]:
    """A file's rows (evenly spaced row groups over ``budget``), with the table's kind,
    what its price is (None: no price to draw), its volume column and whether every row
    was read."""
    schema = parquet.schema_arrow
    profile = profile_of(schema)
    price, volume, what = _price_columns(set(schema.names), profile.kind)
    label = None if price is None else what
    meta = parquet.metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    groups = _spaced(sizes, sizes, budget)
    table = parquet.read_row_groups(groups)  # every column: its nulls and NaN are counted
    if profile.time_column != "__time__":
        table = table.append_column("__time__", table.column(profile.time_column))
    return profile.kind, label, volume, table, len(groups) == len(sizes)


def _columns(
    table: pa.Table,
    kind: TableKind,
    volume: str | None,
    record: Mapping[str, Any],
    symbols: dict[str, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    times = _times_ns(table.column("__time__"))
    if kind == TableKind.BOOK:
        prices = (_floats(table.column("bid_px_00")) + _floats(table.column("ask_px_00"))) / 2
    else:
        prices = _floats(table.column("close" if "close" in table.column_names else "price"))
    volumes = _quantities(table.column(volume)) if volume else None
    if "symbol" in table.column_names:
        encoded = table.column("symbol").cast(pa.string()).combine_chunks().dictionary_encode()
        lookup = np.asarray(
            [symbols.setdefault(s or "", len(symbols)) for s in encoded.dictionary.to_pylist()]
            + [symbols.setdefault("", len(symbols))],
            np.int64,
        )
        index = np.asarray(encoded.indices.fill_null(len(lookup) - 1).to_numpy(), np.int64)
        codes = lookup[index]
    else:
        named = [str(s) for s in record.get("symbols") or [""]]
        codes = np.full(len(times), symbols.setdefault(named[0], len(symbols)), np.int64)
    return codes, times, prices, volumes


def _daily_stamps(times: np.ndarray) -> bool:
    return bool(len(times)) and not np.any(times % _DAY)


def _holes(
    codes: np.ndarray,
    times: np.ndarray,
    symbols: dict[str, int],
    calendar_of: Callable[[str], str | None],
    interval: int,
) -> list[Hole]:
    """Gaps longer than HOLE_NS (plus one bar) between a symbol's consecutive rows of one
    file, both inside the same session's hours."""
    names = {code: name for name, code in symbols.items()}
    found: list[Hole] = []
    for code in np.unique(codes):
        mine = np.sort(times[codes == code])
        if len(mine) < 2:
            continue
        gaps = np.flatnonzero(np.diff(mine) > HOLE_NS + interval)
        if not len(gaps):
            continue
        symbol = names[int(code)]
        labels, inside = session_labels(mine, calendar_of(symbol), daily=False)
        for i in gaps:
            if inside[i] and inside[i + 1] and labels[i] == labels[i + 1]:
                found.append(Hole(symbol, int(mine[i]), int(mine[i + 1])))
    return found


def _series(
    pictures: Pictures,
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]],
    symbols: dict[str, int],
) -> None:
    """Per symbol and bucket: the last defined price and the summed volume."""
    codes = np.concatenate([p[0] for p in parts])
    times = np.concatenate([p[1] for p in parts])
    prices = np.concatenate([p[2] for p in parts])
    with_volume = all(p[3] is not None for p in parts)
    volumes = np.concatenate([p[3] for p in parts if p[3] is not None]) if with_volume else None
    if not with_volume:
        pictures.volume_label = None
    span = int(times.max() - times.min()) if len(times) else 0
    width, pictures.bucket = bucket_for(span)
    buckets = times // width
    order = np.lexsort((times, buckets, codes))
    codes, buckets, prices, times = codes[order], buckets[order], prices[order], times[order]
    volumes = volumes[order] if volumes is not None else None
    names = {code: name for name, code in symbols.items()}
    keys = np.flatnonzero(np.r_[True, (codes[1:] != codes[:-1]) | (buckets[1:] != buckets[:-1])])
    valid = ~np.isnan(prices)
    # the last defined price of each bucket: forward-fill positions of defined prices
    position = np.where(valid, np.arange(len(prices)), -1)
    last_valid = np.maximum.accumulate(position)
    ends = np.r_[keys[1:], len(prices)] - 1
    picked = last_valid[ends]
    defined = (picked >= keys) & (picked >= 0)
    sums = np.add.reduceat(np.nan_to_num(volumes), keys) if volumes is not None else None
    for k, start in enumerate(keys):
        symbol = names[int(codes[start])]
        line = pictures.series.setdefault(symbol, {"t": [], "c": [], "v": [], "w": width // 10**6})
        at = times[picked[k]] if defined[k] else buckets[start] * width
        line["t"].append(int(at // 10**6))
        line["c"].append(float(prices[picked[k]]) if defined[k] else None)
        line["v"].append(float(sums[k]) if sums is not None else None)
