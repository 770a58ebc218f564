"""Where Alpaca files live: pure functions of a job's parameters.

::

    raw/alpaca/<asset_class>/bars/timeframe=<tf>/feed=<feed>/adjustment=<adj>/
        symbol=<SYMBOL>/<START>_<END>.json.gz          one chunk of one symbol, vendor JSON
    ingested/alpaca/<job>/timeframe=<tf>/feed=<feed>/adjustment=<adj>/<SYMBOL>.parquet

Timeframe, feed and adjustment are in every path, so IEX and SIP bars, or raw and
adjusted bars, can never be mixed. ``BTC/USD`` is stored as ``BTC-USD``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from multigate.sources.alpaca.symbols import symbol_path_component
from multigate.storage.layout import ingested_root, raw_root
from multigate.time_chunks import Chunk

CRYPTO_FEED = "us"  # alpaca-py's crypto location
NO_ADJUSTMENT = "raw"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


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


def raw_chunk_path(
    data_dir: Path, asset_class: str, series: Series, symbol: str, chunk: Chunk
) -> Path:
    folder = raw_root(data_dir, "alpaca") / asset_class / "bars"
    folder = folder.joinpath(*series.parts()) / f"symbol={symbol_path_component(symbol)}"
    return folder / f"{_stamp(chunk.start)}_{_stamp(chunk.end)}.json.gz"


def output_folder(data_dir: Path, job: str, series: Series) -> Path:
    return ingested_root(data_dir, "alpaca", job).joinpath(*series.parts())


def output_path(data_dir: Path, job: str, series: Series, symbol: str) -> Path:
    return output_folder(data_dir, job, series) / f"{symbol_path_component(symbol)}.parquet"
