"""Config models of the ``vix`` source."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from multigate.config.models import (
    BaseUrl,
    JobConfig,
    LaxDate,
    SourceConfig,
)
from multigate.config.symbols import Symbol, UpperSymbolList

CBOE_DAILY_PRICES_URL = "https://cdn.cboe.com/api/global/us_indices/daily_prices"


class VixDateRange(JobConfig):
    """Optional date window applied to the output (raw files keep the full history)."""

    start: LaxDate | None = None
    """First date kept (inclusive)."""
    end: LaxDate | None = None
    """Last date kept (inclusive)."""

    @model_validator(mode="after")
    def _start_before_end(self) -> VixDateRange:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class VixApiJob(VixDateRange):
    """Download CBOE's ``<INDEX>_History.csv`` for each symbol, then convert it."""

    mode: Literal["api"]
    symbols: UpperSymbolList
    """CBOE index names, e.g. VIX, VIX9D, VIX3M, VIX6M, VVIX (upper-cased, as CBOE names its
    files; commas separate names)."""


class VixOfflineJob(VixDateRange):
    """Convert local CBOE (``DATE,OPEN,HIGH,LOW,CLOSE``) or FRED (``VIXCLS``) CSV files."""

    mode: Literal["offline"]
    path: str
    """A file or glob, relative to the config file's folder."""
    symbol: Symbol | None = None
    """Symbol for the rows; inferred from ``<SYMBOL>_History.csv`` or the FRED series."""


VixJob = Annotated[VixApiJob | VixOfflineJob, Field(discriminator="mode")]


class VixSourceConfig(SourceConfig):
    base_url: BaseUrl | None = None
    """Defaults to CBOE's daily-prices folder; override for mirrors and tests."""
    jobs: list[VixJob] = Field(default_factory=list)  # type: ignore[assignment]
