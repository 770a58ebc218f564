"""The Databento calls we make, through the real clients: quote, download, reference.

The client does not retry; we do, on 429, 5xx and broken transfers, with exponential
backoff. 401/403 become KeyRefused (the key is never shown); 400/422 show the vendor's
message. A download goes to a hidden temporary file that is verified before it is moved
into place, so a cut transfer never leaves a chunk that looks complete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests

from multigate.config.models import HttpSettings
from multigate.errors import KeyRefused, VendorError
from multigate.http import RETRY_STATUSES, parse_retry_after
from multigate.retry_policy import RetryPolicy, TryAgain
from multigate.storage.disk_errors import local_write_error, write_refused
from multigate.time_chunks import Chunk
from multigate.transfer_watch import (
    RateFloor,
    StalledTransfer,
    watch_file_growth,
    watch_progress,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class DatabentoApi:
    def __init__(
        self,
        key: str,
        gateway: str | None,
        http: HttpSettings,
        sleep: Callable[[float], None],
    ) -> None:
        import databento

        from multigate.sources.databento.range_stream import PieceTimeseries  # loads the SDK

        options: dict[str, Any] = {"key": key}
        if gateway:
            options["gateway"] = gateway
        self._client = databento.Historical(**options)
        # Same endpoint, but its file grows as bytes arrive: a trickle is seen, and counted.
        self._client.timeseries = PieceTimeseries(key=key, gateway=self._client.gateway)
        # The client reads its per-request timeout (connect and between bytes) from TIMEOUT.
        for endpoint in (self._client.metadata, self._client.timeseries):
            # (Declared ``int`` by the SDK; requests takes any number of seconds.)
            endpoint.TIMEOUT = http.timeout_seconds  # type: ignore[assignment]
        self._http = http
        self._sleep = sleep
        self._min_rate = RateFloor.from_http(http)
        self._options = options

    def reference(self, endpoint: str, form: dict[str, Any]) -> bytes:
        """The body of a Reference API ``<endpoint>.get_range`` request (``endpoint``:
        ``adjustment_factors`` or ``corporate_actions``) as received: zstd JSON lines. Its
        client decodes them into a DataFrame; the bytes are what is stored."""
        import databento

        api = getattr(databento.Reference(**self._options), endpoint)
        api.TIMEOUT = self._http.timeout_seconds

        def ask() -> bytes:
            # the client's own POST (key, headers, error mapping); get_range would decode it
            response = api._post(url=api._base_url + ".get_range", data=form, basic_auth=True)
            return bytes(response.content)

        return self._with_retries(f"{endpoint}.get_range", ask)

    def get_cost(self, request: dict[str, Any]) -> object:
        """The vendor's quote for ``request`` as it answered (free to ask): normally the USD
        it would bill, but any JSON value, or the text of an answer that is not JSON. The
        caller decides whether it is a price (``multigate.guardrails.parse_quote``)."""

        def ask() -> object:
            try:
                with watch_progress(lambda: 0, self._min_rate, "get_cost"):  # a few bytes
                    return self._client.metadata.get_cost(**request)
            except requests.JSONDecodeError as exc:
                return exc.doc

        return self._with_retries("get_cost", ask)

    def download(
        self,
        request: dict[str, Any],
        target: Path,
        verify: Callable[[Path], None],
        *,
        before_attempt: Callable[[int], None] = lambda attempt: None,
        after_attempt: Callable[[bool, bool], None] = lambda billable, complete: None,
    ) -> None:
        """Stream ``request`` into ``target`` (which must not exist) and verify it.

        ``before_attempt(n)`` runs before every billable attempt and may refuse it;
        ``after_attempt(billable, complete)`` says whether the attempt may have been billed
        (anything but an error status) and whether the transfer finished.
        """
        from databento.common.error import BentoHttpError

        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            before_attempt(attempts)
            try:
                with watch_file_growth(target, self._min_rate):  # a trickle is a broken stream
                    self._client.timeseries.get_range(**request, path=target)
            except BaseException as exc:
                received = target.stat().st_size if target.exists() else 0
                if not isinstance(exc, KeyboardInterrupt):  # Ctrl-C, SIGTERM: keep paid bytes
                    target.unlink(missing_ok=True)
                # An error status means the vendor streamed nothing; anything else (a broken
                # stream, a lost connection, Ctrl-C, a full disk) may have been billed: count it.
                after_attempt(not isinstance(exc, BentoHttpError), False)
                disk = local_write_error(exc)
                if disk is not None and not isinstance(exc, KeyboardInterrupt):  # never retried
                    raise write_refused(target.parent, disk, received, "the download") from disk
                raise
            after_attempt(True, True)
            try:
                verify(target)
            except Exception:  # a Ctrl-C here keeps the paid bytes for the caller to save
                target.unlink(missing_ok=True)
                raise

        self._with_retries("get_range", attempt)

    def _with_retries(self, what: str, call: Callable[[], T]) -> T:
        from databento.common.error import BentoError, BentoHttpError

        def attempt(number: int) -> T:
            try:
                return call()
            except BentoHttpError as exc:
                status = exc.http_status
                if status in (401, 403):
                    raise KeyRefused(
                        f"Databento refused the API key (HTTP {status}) for {what}; check "
                        "DATABENTO_API_KEY",
                        status=status,
                    ) from None
                if status not in RETRY_STATUSES:
                    raise VendorError(f"Databento {what}: {exc}", status=status) from None
                retry_after = parse_retry_after((exc.headers or {}).get("Retry-After"))
                raise TryAgain(f"HTTP {status}", retry_after=retry_after) from exc
            except (
                BentoError,
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                IncompleteDownload,
                StalledTransfer,
            ) as exc:
                # BentoError without a status: the stream broke midway ("Connection broken")
                raise TryAgain(f"{type(exc).__name__}: {exc}") from exc

        return RetryPolicy.from_http(self._http, self._sleep).run(f"Databento {what}", attempt)


class IncompleteDownload(Exception):
    """The bytes received do not decode to a complete DBN stream (a cut transfer)."""


def range_request(
    dataset: str, schema: str, symbol: str, stype_in: str, chunk: Chunk
) -> dict[str, Any]:
    """Form fields of one chunk's request; also recorded in sidecars and the ledger."""
    return {
        "dataset": dataset,
        "schema": schema,
        "symbols": symbol,
        "stype_in": stype_in,
        "start": chunk.start.isoformat(),
        "end": chunk.end.isoformat(),
    }
