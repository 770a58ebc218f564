"""Config models of the ``databento`` source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from multigate.config.models import (
    BaseUrl,
    CostGuardrails,
    DateOrTime,
    JobConfig,
    SourceConfig,
    range_end,
    range_start,
)
from multigate.config.symbols import SymbolEntries, normalise_symbols
from multigate.time_chunks import ChunkPeriod, period_floor

ALL_SYMBOLS = "ALL_SYMBOLS"
Schema = Literal[
    "mbo", "mbp-1", "mbp-10", "tbbo", "trades", "bbo-1s", "bbo-1m", "cbbo-1s", "cbbo-1m",
    "cmbp-1", "tcbbo", "ohlcv-1s", "ohlcv-1m", "ohlcv-1h", "ohlcv-1d", "ohlcv-eod",
    "definition", "statistics", "status", "imbalance",
]  # fmt: skip
SType = Literal["raw_symbol", "parent", "continuous", "instrument_id"]
PriceType = Literal["float", "fixed"]


ReferenceSchema = Literal["adjustment-factors", "corporate-actions"]


class DatabentoOfflineJob(JobConfig):
    """Convert local DBN files (``.dbn`` or ``.dbn.zst``, DBN v1-v3, any schema), or, with
    ``schema``, reference data as the Reference API returns it (JSON lines)."""

    mode: Literal["offline"]
    path: str | None = None
    """A file or glob (``**`` allowed), relative to the config file's folder."""
    raw_dir: str | None = None
    """A folder: every ``*.dbn`` and ``*.dbn.zst`` below it (with ``schema``: every
    ``*.jsonl`` and ``*.jsonl.zst``)."""
    reference_schema: ReferenceSchema | None = Field(default=None, alias="schema")
    """``adjustment-factors`` or ``corporate-actions``: the inputs are Databento reference
    JSON lines (``.jsonl`` / ``.jsonl.zst``), not DBN files."""
    price_type: PriceType = "float"
    """float: prices as float64 (NaN for undefined); fixed: raw int64 in units of 1e-9."""

    @model_validator(mode="after")
    def _one_input(self) -> DatabentoOfflineJob:
        if (self.path is None) == (self.raw_dir is None):
            raise ValueError("give exactly one of 'path' or 'raw_dir'")
        return self


class DatabentoApiJob(JobConfig, CostGuardrails):
    """Download with ``timeseries.get_range`` chunk by chunk, after a cost check."""

    mode: Literal["api"]
    dataset: str = Field(pattern=r"^[A-Z0-9]+\.[A-Z0-9]+$")
    """e.g. GLBX.MDP3, XNAS.ITCH, OPRA.PILLAR, EQUS.MINI."""
    schema_: Schema = Field(alias="schema")
    stype_in: SType = "raw_symbol"
    symbols: SymbolEntries | Literal["ALL_SYMBOLS"]
    """A list of symbols, or ALL_SYMBOLS (alone, not inside a list). Compared and stored as
    the databento client sends them: split on commas, stripped, raw symbols upper-cased,
    smart symbols (parent, continuous) as ``ROOT[.ASSET]`` / ``ROOT.rule.RANK``, instrument
    ids as the vendor reads them (integers: ``0123`` is ``123``)."""
    start: DateOrTime
    """Inclusive: a date (00:00 UTC) or an ISO time."""
    end: DateOrTime
    """A date includes that whole day; a time is exclusive."""
    chunk: ChunkPeriod = "day"
    """One raw file per symbol per day|week|month|quarter|year; stored chunks are never
    quoted or downloaded again. start and end must fall on chunk boundaries. Changing the
    chunk later downloads the range again in the new chunks."""
    price_type: PriceType = "float"

    @field_validator("symbols")
    @classmethod
    def _client_spelling(cls, symbols: list[str] | str, info: ValidationInfo) -> list[str] | str:
        if isinstance(symbols, str):
            return symbols
        stype = info.data.get("stype_in", "raw_symbol")
        rule = _SPELLING.get(stype, str.upper)
        return normalise_symbols(symbols, rule)

    @model_validator(mode="after")
    def _range(self) -> DatabentoApiJob:
        if isinstance(self.symbols, list) and ALL_SYMBOLS in self.symbols:
            raise ValueError("write 'symbols: ALL_SYMBOLS', not ALL_SYMBOLS inside a list")
        start, end = range_start(self.start), range_end(self.end)
        if end <= start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        # Chunks are stored under their exact range: a chunk cut short by start or end would
        # be downloaded, and paid for, again as soon as the range grows.
        if period_floor(start, self.chunk) != start:
            raise ValueError(
                f"start {self.start} does not begin a '{self.chunk}' chunk (00:00 UTC on the "
                f"first day of a {self.chunk}); use such a date or a smaller chunk"
            )
        if period_floor(end, self.chunk) != end:
            raise ValueError(
                f"end {self.end} does not close a '{self.chunk}' chunk; end on the last day "
                f"of a {self.chunk} (a date-only end includes that day) or use a smaller chunk"
            )
        return self

    @property
    def symbol_list(self) -> list[str]:
        return [ALL_SYMBOLS] if self.symbols == ALL_SYMBOLS else list(self.symbols)


def _smart_symbol(symbol: str) -> str:
    """``es.c.0`` -> ``ES.c.0``: the databento client's ``validate_smart_symbol``."""
    tokens = symbol.upper().split(".")
    if len(tokens) > 3 or not all(tokens):
        raise ValueError(
            f"'{symbol}' is not a smart symbol: use ROOT, ROOT.ASSET_CLASS or ROOT.ROLL_RULE.RANK"
        )
    if len(tokens) == 3:
        tokens[1] = tokens[1].lower()
    return ".".join(tokens)


INSTRUMENT_ID_MAX = 2**32 - 1
"""Instrument ids are unsigned 32-bit integers in DBN."""


def _instrument_id(symbol: str) -> str:
    """``0123`` -> ``123``: Databento reads an instrument id as an integer, so ids are
    compared (and duplicates found) as integers, and what is not one is refused here rather
    than paid for as a request that finds nothing."""
    if not (symbol.isascii() and symbol.isdigit()) or int(symbol) > INSTRUMENT_ID_MAX:
        raise ValueError(
            f"'{symbol}' is not an instrument id: with stype_in instrument_id each symbol is "
            f"a whole number from 0 to {INSTRUMENT_ID_MAX} (e.g. 4916)"
        )
    return str(int(symbol))


_SPELLING: dict[str, Callable[[str], str]] = {
    "parent": _smart_symbol,
    "continuous": _smart_symbol,
    "instrument_id": _instrument_id,
}
"""How the vendor reads a symbol of each stype_in (raw symbols: upper-cased)."""


class DatabentoReferenceJob(JobConfig):
    """Download reference data through ``databento.Reference`` (``adjustment_factors`` or
    ``corporate_actions.get_range``) as the JSON lines it returns, once per range."""

    mode: Literal["api"]
    reference_schema: ReferenceSchema = Field(alias="schema")
    """``adjustment-factors`` or ``corporate-actions``."""
    symbols: SymbolEntries | Literal["ALL_SYMBOLS"]
    stype_in: Literal["raw_symbol", "nasdaq_symbol", "isin", "us_code"] = "raw_symbol"
    start: DateOrTime
    """Inclusive, by ex-date (corporate actions: by event date)."""
    end: DateOrTime
    """A date includes that whole day; a time is exclusive."""
    countries: list[str] | None = None
    """ISO country codes of the listings (default: every country)."""
    require_confirm: bool = True
    """Reference requests carry no quote: ask 'y/N' before the request (--yes accepts)."""

    @model_validator(mode="after")
    def _range(self) -> DatabentoReferenceJob:
        if range_end(self.end) <= range_start(self.start):
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self

    @property
    def symbol_list(self) -> list[str]:
        return [ALL_SYMBOLS] if self.symbols == ALL_SYMBOLS else list(self.symbols)


REFERENCE_SCHEMAS = ("adjustment-factors", "corporate-actions")


def _job_kind(value: Any) -> str | None:
    """Which job model a job is: ``api`` with a reference schema is a reference job."""
    if isinstance(value, dict):
        mode, schema = value.get("mode"), value.get("schema")
    else:
        mode = getattr(value, "mode", None)
        schema = getattr(value, "reference_schema", None) if mode == "api" else None
    if mode == "api" and schema in REFERENCE_SCHEMAS:
        return "reference"
    return mode if isinstance(mode, str) else None


DatabentoJob = Annotated[
    Annotated[DatabentoApiJob, Tag("api")]
    | Annotated[DatabentoOfflineJob, Tag("offline")]
    | Annotated[DatabentoReferenceJob, Tag("reference")],
    Discriminator(_job_kind),
]


class DatabentoSourceConfig(SourceConfig):
    base_url: BaseUrl | None = None
    """Historical gateway override (default: Databento's); passed to the client as ``gateway``."""
    jobs: list[DatabentoJob] = Field(default_factory=list)  # type: ignore[assignment]
