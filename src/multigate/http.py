"""HTTP GET under the shared retry policy: timeouts, 429 and 5xx are retried (``Retry-After``
honoured up to the backoff cap); any other 4xx fails at once with the URL and status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

from multigate.config.models import HttpSettings
from multigate.errors import KeyRefused, VendorError
from multigate.retry_policy import RetryPolicy, TryAgain
from multigate.transfer_watch import RateFloor, StalledTransfer, watch_response_bodies

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Answers worth trying again: request timeout, rate limit, server trouble."""
USER_AGENT = "multigate/0.1"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After header as seconds: delta-seconds or an HTTP date; None if absent/invalid."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def get_bytes(
    session: requests.Session,
    url: str,
    settings: HttpSettings,
    *,
    sleep: Callable[[float], None],
) -> bytes:
    """GET ``url`` and return the whole body, retrying what is worth retrying (a body
    slower than the ``http:`` minimum rate included)."""
    watch = watch_response_bodies(RateFloor.from_http(settings))

    def attempt(number: int) -> bytes:
        try:
            response = session.get(
                url,
                timeout=settings.timeout_seconds,
                headers={"User-Agent": USER_AGENT},
                hooks={"response": watch},  # reads the body, or raises StalledTransfer
            )
            body = response.content  # raises on a body shorter than Content-Length
        except (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            StalledTransfer,
        ) as exc:
            raise TryAgain(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code < 400:
            return body
        if response.status_code in (401, 403):
            raise KeyRefused(
                f"GET {url} -> HTTP {response.status_code}: access refused",
                status=response.status_code,
            )
        if response.status_code not in RETRY_STATUSES:
            raise VendorError(
                f"GET {url} -> HTTP {response.status_code}: {_snippet(body)}",
                status=response.status_code,
            )
        raise TryAgain(
            f"HTTP {response.status_code}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    return RetryPolicy.from_http(settings, sleep).run(f"GET {url}", attempt)


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", errors="replace").strip().replace("\n", " ")
    return text or "(empty body)"
