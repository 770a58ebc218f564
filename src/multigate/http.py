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

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "multigate/0.1"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


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
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
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
