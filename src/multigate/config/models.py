"""Typed, frozen config models shared by every source.

Each vendor module subclasses :class:`SourceConfig` and :class:`JobConfig`; the loader
validates ``sources.<name>`` with the model its source registered. Every model forbids
unknown keys, so a typo such as ``max_cost_usb`` is an error rather than a silent default.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from multigate.storage.remote.location import is_remote_url, parse_remote

Mode = Literal["offline", "api"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_safe_name(value: str) -> str:
    """A name that is safe as one path component: letters, digits, ``_ . -``, no ``..``."""
    if not _SAFE_NAME.match(value) or ".." in value:
        raise ValueError(
            f"'{value}' is not a safe name: use letters, digits, '_', '.', '-' "
            "(starting with a letter or digit, no '..')"
        )
    return value


def check_base_url(value: str) -> str:
    """An ``http(s)://host[:port][/path]`` URL: anything else fails in the HTTP client."""
    problem = None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme not in ("http", "https"):
            problem = "it must start with http:// or https://"
        elif not parts.hostname:
            problem = "it names no host"
    if problem is None and any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        problem = "it holds spaces or control characters"
    if problem:
        raise ValueError(f"{value!r} is not a usable URL: {problem}")
    return value


BaseUrl = Annotated[str, AfterValidator(check_base_url)]
"""An endpoint override: ``http(s)://host[:port][/path]``."""
SafeName = Annotated[str, AfterValidator(check_safe_name)]


def _calendar_name(value: str) -> str:
    from multigate.quality.calendars import check_calendar_name

    return check_calendar_name(value)


CalendarName = Annotated[str, AfterValidator(_calendar_name)]
"""An exchange_calendars name (``XNYS``, ``CMES``, ...) or ``none``."""
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(2261, 12, 31)
"""Stored times are nanoseconds since 1970 (pandas and Arrow stop in April 2262)."""


def check_date_range(value: date) -> date:
    """A date or time between FIRST_DATE and LAST_DATE: ``9999-12-31`` would overflow."""
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(
            f"{value} is outside the supported range {FIRST_DATE} .. {LAST_DATE} "
            "(times are stored as nanoseconds since 1970)"
        )
    return value


LaxDate = Annotated[date, Field(strict=False), AfterValidator(check_date_range)]
"""A date: an unquoted YAML date or a quoted ``"YYYY-MM-DD"`` string."""


def _date_or_time(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"'{value}' is not a date (YYYY-MM-DD) or an ISO time (YYYY-MM-DDTHH:MM[:SS][Z])"
            ) from None
    return value


DateOrTime = Annotated[
    datetime | date, BeforeValidator(_date_or_time), AfterValidator(check_date_range)
]
"""``2024-01-01`` (a whole UTC day) or ``2024-01-01T14:30:00Z`` (an instant; naive = UTC)."""


def range_start(value: date | datetime) -> datetime:
    """The first instant (UTC) a ``start:`` value covers."""
    return _as_utc(value)


def range_end(value: date | datetime) -> datetime:
    """The instant (UTC) an ``end:`` value stops before: a date-only end includes that whole
    day; a time is exclusive."""
    if not isinstance(value, datetime):
        return _as_utc(value) + timedelta(days=1)
    return _as_utc(value)


def _as_utc(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StrictModel(BaseModel):
    """Unknown keys are errors, types are not coerced, numbers are finite (``.inf`` and
    ``.nan`` are refused), and parsed configs are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class HttpSettings(StrictModel):
    """How a source talks HTTP: timeouts, a minimum transfer rate, and retries with
    exponential backoff."""

    timeout_seconds: float = Field(default=30.0, gt=0)
    """Seconds to wait for a server to answer before the attempt counts as failed."""
    max_attempts: int = Field(default=5, ge=1, le=20)
    """Attempts per request, counting the first; retried on timeouts, 429 and 5xx."""
    backoff_seconds: float = Field(default=1.0, ge=0)
    """Wait before the first retry; doubles after each failed attempt."""
    max_backoff_seconds: float = Field(default=60.0, ge=0)
    """Upper bound for one wait (a server's Retry-After is honoured up to this too)."""
    min_rate_bytes_per_second: float = Field(default=1000.0, ge=0, allow_inf_nan=False)
    """A transfer slower than this on average over a whole window is aborted and retried as
    a broken stream (a server trickling bytes never trips ``timeout_seconds``); 0 = off."""
    min_rate_window_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    """Length of that window."""


class JobConfig(StrictModel):
    """Keys every job has. Vendors add their own in subclasses."""

    name: SafeName
    """Unique across the whole file; used in storage paths and ``--job`` filters."""
    mode: Mode
    """The job runs only when it equals its source's ``mode``."""
    enabled: bool = True
    """Set false to keep a job in the file without running it."""
    calendar: CalendarName | None = None
    """Exchange calendar the quality checks judge sessions by (``XNYS``, ``CMES``, ...;
    ``none``: UTC days, every day open). Default: from the source (see README)."""


class CostGuardrails(StrictModel):
    """Guardrails for jobs that spend money. Mixed into paid API jobs."""

    print_cost: bool = True
    """Print the vendor's cost estimate before downloading."""
    require_confirm: bool = True
    """Ask 'y/N' before downloading; without a terminal, refuse unless --yes is given."""
    max_cost_usd: float | None = Field(default=None, ge=0)
    """Hard cap: abort before any download when the estimate is above it (--yes does not
    override it). ``null`` means no cap. It bounds one run, retries included."""
    budget_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """Lifetime cap of the job: what the ledger shows it was ever billed (retries and
    downloads of killed runs included) plus the new estimate must stay within it."""


class SourceConfig(StrictModel):
    """Keys every source has. Vendors narrow ``jobs`` to their own job models."""

    enabled: bool = False
    """Master switch for the whole source."""
    mode: Mode
    """Which jobs of this source run: those whose ``mode`` equals this."""
    base_url: BaseUrl | None = None
    """Endpoint override (tests, proxies); the vendor's default when absent."""
    http: HttpSettings = HttpSettings()
    jobs: list[JobConfig] = Field(default_factory=list)
    """Job names must be unique across the whole file (checked by the loader)."""


SCHEDULER_SCHEMES = ("tcp", "tls")


def scheduler_address(address: str) -> str:
    """``address`` when it names a Dask scheduler a run can reach (``tcp://HOST[:PORT]``,
    ``tls://...``, or ``HOST:PORT``); ValueError saying what is wrong otherwise."""
    text = address.strip()
    try:
        parts = urlsplit(text if "://" in text else f"tcp://{text}")
    except ValueError as exc:  # 'tcp://[::1': an unclosed IPv6 bracket
        raise ValueError(f"{address!r} is not a scheduler address ({exc})") from None
    if parts.scheme == "inproc":
        raise ValueError(
            f"{address!r} names a scheduler inside one Python process, which a run cannot "
            "join: give tcp://HOST:PORT, or no scheduler (a local Dask cluster)"
        )
    if parts.scheme not in SCHEDULER_SCHEMES:
        raise ValueError(f"{address!r}: a scheduler address is tcp://HOST:PORT or tls://HOST:PORT")
    try:
        port = parts.port
        host = parts.hostname
    except ValueError as exc:  # '[::1' (an unclosed IPv6 bracket), a port out of range
        raise ValueError(f"{address!r} is not a scheduler address ({exc})") from None
    if not host:
        raise ValueError(f"{address!r} names no host: give tcp://HOST:PORT")
    del port
    return text


class EngineSettings(StrictModel):
    """Where convert tasks run. Command-line flags override these."""

    workers: int | None = Field(default=None, ge=1, le=1024)
    """Convert tasks at once (``null``: the number of cores; 1: one after another)."""
    executor: Literal["local", "dask"] = "local"
    """``local``: a process pool on this machine; ``dask``: a Dask distributed cluster."""
    scheduler: Annotated[str, AfterValidator(scheduler_address)] | None = None
    """Dask scheduler address (``tcp://HOST:8786``); none starts a local Dask cluster."""
    shared_filesystem: bool = False
    """Say true when every Dask worker sees ``data_dir`` at the same path (NFS, ...);
    a remote scheduler is refused otherwise."""


class IngestConfig(StrictModel):
    """The whole of ``ingest.yaml`` once validated."""

    data_dir: str = "data"
    """Root of ``raw/`` and ``ingested/``; relative paths are relative to the config file.
    A URL (``s3://bucket/prefix``) puts the data folder on object storage."""
    storage_options: dict[str, Any] = Field(default_factory=dict)
    """Of an object-store ``data_dir``: options for its fsspec filesystem (over what the
    AWS variables give)."""
    cache_dir: str | None = None
    """Of an object-store ``data_dir``: where its local working copy is (default: under
    the user's cache folder)."""
    engine: EngineSettings = EngineSettings()
    sources: dict[str, SourceConfig] = Field(default_factory=dict)

    @field_validator("data_dir")
    @classmethod
    def _data_dir_url(cls, value: str) -> str:
        if is_remote_url(value):
            parse_remote(value)  # ValueError: a clear config error at data_dir's line
        return value

    @field_validator("storage_options")
    @classmethod
    def _keyword_mappings(cls, value: dict[str, Any]) -> dict[str, Any]:
        """``client_kwargs``, ``config_kwargs``...: the store's client takes them as keyword
        arguments, so each must be a mapping (a list fails deep inside the client)."""
        for key, item in value.items():
            if str(key).endswith("kwargs") and not isinstance(item, dict):
                raise ValueError(
                    f"storage_options.{key} must be a mapping of names to values (e.g. "
                    f"{{region_name: eu-central-1}}), not {type(item).__name__} {item!r}"
                )
        return value

    @model_validator(mode="after")
    def _remote_only_settings(self) -> IngestConfig:
        if not is_remote_url(self.data_dir):
            for name in ("storage_options", "cache_dir"):
                if name in self.model_fields_set:
                    raise ValueError(
                        f"{name} applies only to an object-store data_dir (s3://...); "
                        f"data_dir is the local folder '{self.data_dir}'"
                    )
        return self
