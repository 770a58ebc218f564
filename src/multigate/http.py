"""HTTP GET with bounded retries: exponential backoff on timeouts, 429 and 5xx,
``Retry-After`` honoured; any other 4xx fails at once with the URL and status."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

from multigate.config.models import HttpSettings
from multigate.errors import KeyRefused, VendorError

log = logging.getLogger(__name__)

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


def backoff_delay(attempt: int, settings: HttpSettings, retry_after: float | None) -> float:
    """Wait before retry number ``attempt`` (1-based)."""
    delay = settings.backoff_seconds * (2 ** (attempt - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, settings.max_backoff_seconds)


def get_bytes(
    session: requests.Session,
    url: str,
    settings: HttpSettings,
    *,
    sleep: Callable[[float], None],
) -> bytes:
    """GET ``url`` and return the whole body, retrying what is worth retrying."""
    last_problem = ""
    for attempt in range(1, settings.max_attempts + 1):
        retry_after: float | None = None
        try:
            response = session.get(
                url, timeout=settings.timeout_seconds, headers={"User-Agent": USER_AGENT}
            )
            body = response.content  # raises on a body shorter than Content-Length
        except (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            last_problem = f"{type(exc).__name__}: {exc}"
        else:
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
            last_problem = f"HTTP {response.status_code}"
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if attempt < settings.max_attempts:
            delay = backoff_delay(attempt, settings, retry_after)
            log.warning(
                "GET %s failed (%s); retry %d/%d in %.1fs",
                url,
                last_problem,
                attempt,
                settings.max_attempts - 1,
                delay,
            )
            sleep(delay)
    raise VendorError(
        f"GET {url} failed after {settings.max_attempts} attempts: {last_problem}",
        retryable=True,
    )


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", errors="replace").strip().replace("\n", " ")
    return text or "(empty body)"
