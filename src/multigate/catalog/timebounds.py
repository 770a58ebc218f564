"""Turn what users pass as ``start``/``end``/``as_of`` into UTC nanoseconds.

Accepted: ``"2024-01-02"`` (00:00 UTC that day), ISO times (``"2024-01-02T14:30Z"``; naive
means UTC), ``datetime.date``, ``datetime.datetime`` and ``pandas.Timestamp``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from multigate.catalog.errors import CatalogError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_MIN, _NS_MAX = -(2**63) + 1, 2**63 - 1


def to_utc_ns(value: Any, what: str) -> int:
    """``value`` as UTC nanoseconds since the epoch; CatalogError when it is not a time."""
    try:
        # before 1677 or after 2262 (outside what int64 nanoseconds hold) means "every row"
        return min(max(_to_ns(value, what), _NS_MIN), _NS_MAX)
    except (OverflowError, ArithmeticError):
        raise CatalogError(
            f"{what}: {value!r} is not a date (YYYY-MM-DD) or an ISO time in range"
        ) from None


def _to_ns(value: Any, what: str) -> int:
    if hasattr(value, "tz_localize") and hasattr(value, "value"):  # pandas.Timestamp
        stamp = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
        return int(stamp.value)
    if isinstance(value, datetime):
        return _datetime_ns(value)
    if isinstance(value, date):
        return _datetime_ns(datetime(value.year, value.month, value.day))
    if isinstance(value, str):
        text = value.strip()
        try:
            return _datetime_ns(datetime.fromisoformat(text))
        except ValueError:
            return _nanosecond_text(text, what)
    raise CatalogError(f"{what}: {value!r} is not a date or a time")


def _datetime_ns(value: datetime) -> int:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    delta = aware - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _nanosecond_text(text: str, what: str) -> int:
    """ISO times with more than microsecond precision (as sidecars write them)."""
    import pandas as pd

    try:
        stamp = pd.Timestamp(text)
    except (ValueError, OverflowError):  # pandas' OutOfBoundsDatetime is a ValueError
        stamp = None
    if stamp is None or stamp is pd.NaT:
        raise CatalogError(
            f"{what}: '{text}' is not a date (YYYY-MM-DD) or an ISO time (YYYY-MM-DDTHH:MM[:SS][Z])"
        )
    return _to_ns(stamp, what)


def ns_to_datetime(value: int) -> datetime:
    """UTC datetime of ``value`` nanoseconds (microsecond precision)."""
    return datetime.fromtimestamp(value // 1_000 / 1_000_000, tz=UTC)
