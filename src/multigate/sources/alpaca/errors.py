"""Errors raised by the Alpaca source, and the mapping from HTTP answers to them."""

from __future__ import annotations

import json
from typing import ClassVar

from multigate.errors import KeyRefused, VendorError

SIP_HINT = (
    "your Alpaca subscription does not permit recent SIP data; "
    "use `feed: iex`, or an `end` at least 15 minutes in the past"
)


class AlpacaError(VendorError):
    """Base class of every error raised by the Alpaca source."""

    transient: ClassVar[bool] = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, retryable=self.transient, status=status)


class AlpacaKeyRefused(AlpacaError, KeyRefused):
    """Alpaca refused the API key/secret (HTTP 401/403). The key is never included."""


class AlpacaRequestRejected(AlpacaError):
    """Alpaca rejected the request itself (HTTP 400/404/422, ...); shows the vendor's message."""


class AlpacaSipNotPermitted(AlpacaRequestRejected):
    """HTTP 403: the subscription does not allow querying recent SIP data."""


class AlpacaRateLimited(AlpacaError):
    """Rate limit (429), vendor failure (5xx) or unreachable vendor, still failing after retries."""

    transient = True


def vendor_message(body: str) -> str:
    """The human message of an Alpaca error body (`{"message": ...}`), else the raw text."""
    text = (body or "").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("message"):
        message = str(parsed["message"])
        if parsed.get("code") is not None:
            message = f"{message} (code {parsed['code']})"
        return message
    if len(text) > 500:
        text = text[:500] + "..."
    return text or "<empty body>"


def redact(text: str, secrets: tuple[str | None, ...]) -> str:
    """Replace every occurrence of a secret (key id, secret key) by '***'."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def is_sip_message(message: str) -> bool:
    lowered = message.lower()
    return "sip" in lowered and ("subscription" in lowered or "permit" in lowered)


def error_for_status(
    status: int, body: str, *, url_path: str = "", secrets: tuple[str | None, ...] = ()
) -> AlpacaError:
    """Map a non-2xx HTTP answer to one of our exceptions (retry exhaustion included)."""
    message = redact(vendor_message(body), secrets)
    where = f" for {url_path}" if url_path else ""
    if status == 403 and is_sip_message(message):
        return AlpacaSipNotPermitted(
            f"Alpaca answered 403{where}: {message} -- {SIP_HINT}", status=status
        )
    if status in (401, 403):
        return AlpacaKeyRefused(
            f"Alpaca refused the API key (HTTP {status}){where}: {message}. "
            "Check the key id/secret and that they belong to this environment "
            "(live vs paper) and data plan.",
            status=status,
        )
    if status == 429 or status >= 500:
        return AlpacaRateLimited(
            f"Alpaca still answered HTTP {status}{where} after retrying: {message}",
            status=status,
        )
    return AlpacaRequestRejected(
        f"Alpaca rejected the request (HTTP {status}){where}: {message}", status=status
    )


class AlpacaBadAnswer(AlpacaError):
    """Alpaca answered 200 with a body that is not a valid bars page (wrong shape, a bar
    without a usable time or value, two bars at one time, a pagination loop). Nothing of
    the chunk is stored, so the next run asks again."""
