"""Config models of the ``alpaca`` source."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator

from multigate.config.models import (
    BaseUrl,
    DateOrTime,
    JobConfig,
    SourceConfig,
    range_end,
    range_start,
)
from multigate.config.symbols import Symbol, UpperSymbolList
from multigate.sources.alpaca.timeframe import timeframe_str
from multigate.time_chunks import ChunkPeriod

Timeframe = Annotated[str, AfterValidator(timeframe_str)]
"""``1Min``, ``5Min``, ``15Min``, ``1Hour``, ``1Day``, ``1Week``, ``1Month`` or ``<n><unit>``."""
Feed = Literal["iex", "sip", "delayed_sip", "otc", "boats", "overnight"]
Adjustment = Literal["raw", "split", "dividend", "all"]
RECENT_DATA_PAID_FEEDS = frozenset({"sip", "delayed_sip"})  # last 15 minutes: paid plans only
DEFAULT_SETTLE_MINUTES = 5
VENDOR_ADJUSTED_UPDATES = (
    "adjustment other than raw cannot be updated: each run would store its new bars adjusted "
    "as of the day they were fetched, so a later split leaves the stored history "
    "discontinuous. Store raw bars (adjustment: raw) and adjust on read: "
    "Catalog.read(..., adjust='splits' or 'all', adjustments='<corporate-actions dataset>'); "
    "or give a fixed end in the past"
)
"""Why a vendor-adjusted job with no end (or an end still to come) is refused."""


class AlpacaApiJob(JobConfig):
    """Download bars through alpaca-py, store the vendor's JSON, convert to Parquet."""

    mode: Literal["api"]
    asset_class: Literal["stocks", "crypto"] = "stocks"
    """``crypto`` uses alpaca-py's crypto client (symbols like ``BTC/USD``; no key needed)."""
    symbols: UpperSymbolList
    """Stripped, split on commas (alpaca-py joins a list with commas) and upper-cased: every
    Alpaca symbol is upper case, so 'aapl' and 'AAPL' are one symbol, fetched once."""
    timeframe: Timeframe
    start: DateOrTime
    """First bar time: a date (its 00:00 UTC) or an ISO time."""
    end: DateOrTime | None = None
    """A date includes that whole day; a time is exclusive. Empty: up to now."""
    adjustment: Adjustment = "raw"
    """Stocks only: raw, split, dividend or all. Part of the storage path. Other than raw
    only with a fixed end in the past (adjusted history cannot be updated: adjust raw bars
    on read instead)."""
    feed: Feed = "iex"
    """Stocks only: iex (free plan), sip, delayed_sip, otc, ... Part of the storage path."""
    chunk: ChunkPeriod | None = None
    """Download unit kept as one raw file per symbol: day, week, month, quarter or year.
    Default: month for minute/hour bars, year for daily and longer."""
    settle_minutes: int | None = Field(default=None, ge=0)
    """Minutes a bar is left to settle after it ends before it is stored for good (late
    trades may still change it). Default: 15 for feed sip or delayed_sip (their last 15
    minutes need a paid plan), else 5."""

    def settle_margin(self) -> timedelta:
        """How long after a bar ends it may still change, as far as this job trusts."""
        if self.settle_minutes is not None:
            return timedelta(minutes=self.settle_minutes)
        if self.asset_class == "stocks" and self.feed in RECENT_DATA_PAID_FEEDS:
            return timedelta(minutes=15)
        return timedelta(minutes=DEFAULT_SETTLE_MINUTES)

    @model_validator(mode="after")
    def _check(self) -> AlpacaApiJob:
        if self.end is not None and range_end(self.end) <= range_start(self.start):
            raise ValueError(f"end {self.end} is not after start {self.start}")
        if self.asset_class == "crypto":
            if "adjustment" in self.model_fields_set or "feed" in self.model_fields_set:
                raise ValueError("adjustment and feed apply to stocks only, not crypto")
        elif any("/" in symbol for symbol in self.symbols):
            raise ValueError("stock symbols cannot contain '/'; use asset_class: crypto")
        elif self.adjustment != "raw" and self.end is None:
            raise ValueError(VENDOR_ADJUSTED_UPDATES)
        return self


class AlpacaOfflineJob(JobConfig):
    """Convert local bar files: CSV, Parquet, or Alpaca JSON bodies (``.json``/``.json.gz``)."""

    mode: Literal["offline"]
    path: str
    """A file or glob (``**`` allowed), relative to the config file's folder."""
    timeframe: Timeframe
    """The bars' timeframe; part of the output path and provenance."""
    symbol: Symbol | None = None
    """Symbol for files without a symbol column."""
    feed: Feed | Literal["unknown"] = "unknown"
    adjustment: Adjustment | Literal["unknown"] = "unknown"
    asset_class: Literal["stocks", "crypto"] = "stocks"


class AlpacaCorporateActionsJob(JobConfig):
    """Convert saved bodies of ``GET /v1/corporate-actions`` (``.json`` / ``.json.gz``) into a
    dataset of corporate actions that ``Catalog.read(adjust=...)`` can apply."""

    mode: Literal["offline"]
    corporate_actions: str
    """A file or glob (``**`` allowed), relative to the config file's folder."""


def _job_kind(value: Any) -> str | None:
    """Which job model a job is: an offline job naming ``corporate_actions`` is one."""
    if isinstance(value, dict):
        mode, actions = value.get("mode"), "corporate_actions" in value
    else:
        mode, actions = getattr(value, "mode", None), hasattr(value, "corporate_actions")
    if mode == "offline" and actions:
        return "actions"
    return mode if isinstance(mode, str) else None


AlpacaJob = Annotated[
    Annotated[AlpacaApiJob, Tag("api")]
    | Annotated[AlpacaOfflineJob, Tag("offline")]
    | Annotated[AlpacaCorporateActionsJob, Tag("actions")],
    Discriminator(_job_kind),
]


class AlpacaSourceConfig(SourceConfig):
    base_url: BaseUrl | None = None
    """Market-data endpoint override (default https://data.alpaca.markets)."""
    requests_per_minute: float = Field(default=190, ge=0)
    """Client-side pacing under Alpaca's limit (200/min on the free plan); 0 = no pacing."""
    jobs: list[AlpacaJob] = Field(default_factory=list)  # type: ignore[assignment]
