"""Where Alpaca files live: pure functions of a job's parameters.

::

    raw/alpaca/<asset_class>/bars/timeframe=<tf>/feed=<feed>/adjustment=<adj>/
        symbol=<SYMBOL>/<START>_<END>.json.gz          [START, END) of one symbol, vendor JSON
    ingested/alpaca/<job>/timeframe=<tf>/feed=<feed>/adjustment=<adj>/<SYMBOL>.parquet

A raw file holds one chunk, or a piece of one (a daily update fetches only the new days);
a finished chunk's pieces are compacted into one file. Timeframe, feed and adjustment are
in every path, so IEX and SIP bars, or raw and
adjusted bars, can never be mixed. ``BTC/USD`` is stored as ``BTC-USD``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from multigate.sources.alpaca.raw_store import RAW_SUFFIX
from multigate.sources.alpaca.symbols import symbol_path_component
from multigate.storage.layout import ingested_root, raw_root
from multigate.time_chunks import Chunk

CRYPTO_FEED = "us"  # alpaca-py's crypto location
NO_ADJUSTMENT = "raw"


_STAMP = "%Y%m%dT%H%M%SZ"


def _stamp(moment: datetime) -> str:
    return moment.strftime(_STAMP)


class Series(NamedTuple):
    """What bars are: never mixed in one folder."""

    timeframe: str
    feed: str
    adjustment: str

    def parts(self) -> tuple[str, str, str]:
        return (
            f"timeframe={self.timeframe}",
            f"feed={self.feed}",
            f"adjustment={self.adjustment}",
        )


def raw_symbol_folder(data_dir: Path, asset_class: str, series: Series, symbol: str) -> Path:
    """The folder holding every raw chunk and piece of one symbol's series."""
    folder = raw_root(data_dir, "alpaca") / asset_class / "bars"
    return folder.joinpath(*series.parts()) / f"symbol={symbol_path_component(symbol)}"


def raw_file_name(span: Chunk) -> str:
    return f"{_stamp(span.start)}_{_stamp(span.end)}{RAW_SUFFIX}"


def raw_file_span(name: str) -> Chunk | None:
    """The [start, end) a raw file's name says it holds; None for any other name."""
    if name.startswith(".") or not name.endswith(RAW_SUFFIX):
        return None
    first, _, second = name[: -len(RAW_SUFFIX)].partition("_")
    try:
        start = datetime.strptime(first, _STAMP).replace(tzinfo=UTC)
        end = datetime.strptime(second, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return Chunk(start, end) if start < end else None


def raw_chunk_path(
    data_dir: Path, asset_class: str, series: Series, symbol: str, chunk: Chunk
) -> Path:
    return raw_symbol_folder(data_dir, asset_class, series, symbol) / raw_file_name(chunk)


def output_folder(data_dir: Path, job: str, series: Series) -> Path:
    return ingested_root(data_dir, "alpaca", job).joinpath(*series.parts())


def output_path(data_dir: Path, job: str, series: Series, symbol: str) -> Path:
    return output_folder(data_dir, job, series) / f"{symbol_path_component(symbol)}.parquet"
