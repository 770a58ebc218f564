"""alpaca-py historical data clients whose HTTP retries are done by us, not by alpaca-py.

alpaca-py's RESTClient retries 429/504 itself (3 times, fixed 3 s sleep, Retry-After
ignored). We switch that off (`_retry = 0`, `_retry_codes = []`) and override
`_one_request`, the single-HTTP-request hook called by `RESTClient._request` for every page
of a paginated call, so that each page is retried on its own under the shared `RetryPolicy`
(built from the source's `http:` settings, with an injectable `sleep`), and HTTP errors
become our `AlpacaError` subclasses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from alpaca.data.historical.crypto import CryptoHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient

from multigate.config.models import HttpSettings
from multigate.http import RETRY_STATUSES, parse_retry_after
from multigate.pacing import RequestPacer
from multigate.retry_policy import RetryPolicy, TryAgain
from multigate.sources.alpaca.bars_check import PageGuard
from multigate.sources.alpaca.errors import (
    AlpacaBadAnswer,
    AlpacaError,
    AlpacaRateLimited,
    error_for_status,
)
from multigate.sources.alpaca.raw_store import require_unicode
from multigate.transfer_watch import RateFloor, StalledTransfer, watch_response_bodies

Sleep = Callable[[float], None]


class _RetryingMixin:
    """Mixed into alpaca-py's REST clients; relies on their `_session` and key attributes."""

    _session: requests.Session
    _api_key: str | None
    _secret_key: str | None

    def _mg_configure(
        self, http: HttpSettings, sleep: Sleep, pacer: RequestPacer | None = None
    ) -> None:
        # Disable alpaca-py's own retry loop (see alpaca/common/rest.py RESTClient._request).
        self._retry = 0
        self._retry_wait = 0
        self._retry_codes: list[int] = []
        self.http = http
        self.retry_policy = RetryPolicy.from_http(http, sleep)
        # Every body is read under the minimum-rate watch before alpaca-py sees it.
        self._session.hooks["response"].append(watch_response_bodies(RateFloor.from_http(http)))
        self.pacer = pacer or RequestPacer(0)
        self.pages = PageGuard()  # fetch_bars sets a bounded one per request

    def _one_request(self, method: str, url: str, opts: dict, retry: int) -> Any:
        opts = dict(opts)
        opts.setdefault("timeout", self.http.timeout_seconds)
        path = urlsplit(url).path
        secrets = (self._api_key, self._secret_key)

        def attempt(number: int) -> Any:
            self.pacer.wait()
            try:
                response = self._session.request(method, url, **opts)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                StalledTransfer,
            ) as exc:
                problem = str(exc) if isinstance(exc, StalledTransfer) else type(exc).__name__
                raise TryAgain(
                    problem,
                    give_up=AlpacaRateLimited(
                        f"Alpaca unreachable or too slow for {path} after {number} attempts: "
                        f"{problem}"
                    ),
                ) from exc
            status = response.status_code
            if 200 <= status < 300:
                return self._mg_body(response, path)
            error = error_for_status(status, response.text, url_path=path, secrets=secrets)
            if status in RETRY_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise TryAgain(f"HTTP {status}", retry_after=retry_after, give_up=error)
            raise error

        return self.retry_policy.run(f"Alpaca {method} {path}", attempt)

    def _mg_body(self, response: requests.Response, path: str) -> Any:
        body = None
        if response.text != "":
            try:
                body = response.json(object_pairs_hook=_unique_keys)
            except _KeyTwice as exc:
                raise AlpacaBadAnswer(
                    f"Alpaca answered {path} with an object holding the key {exc.key!r} twice "
                    "(JSON readers keep only the last, losing the first)"
                ) from None
            except (ValueError, RecursionError):
                raise AlpacaBadAnswer(
                    f"Alpaca answered {path} with a body that is not readable JSON "
                    f"(content-type {response.headers.get('Content-Type')!r})"
                ) from None
            try:
                require_unicode(body)
            except ValueError as exc:
                raise AlpacaBadAnswer(f"Alpaca answered {path} with bad text: {exc}") from None
        self.pages.accept(body)  # before alpaca-py reads it: a bad page raises here
        return body


class _KeyTwice(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing one that holds a key twice (a symbol's bars)."""
    result = dict(pairs)
    if len(result) != len(pairs):  # rare: find the key
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _KeyTwice(key)
            seen.add(key)
    return result


class RetryingStockClient(_RetryingMixin, StockHistoricalDataClient):
    """`StockHistoricalDataClient` (raw_data=True) with our retry policy and error mapping."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        url_override: str | None = None,
        http: HttpSettings | None = None,
        sleep: Sleep = time.sleep,
        pacer: RequestPacer | None = None,
    ) -> None:
        if not api_key or not secret_key:
            raise AlpacaError("an Alpaca API key id and secret key are both required")
        super().__init__(api_key, secret_key, raw_data=True, url_override=url_override)
        self._mg_configure(http or HttpSettings(), sleep, pacer)


class RetryingCryptoClient(_RetryingMixin, CryptoHistoricalDataClient):
    """`CryptoHistoricalDataClient` (raw_data=True); keys optional, as for Alpaca crypto."""

    def __init__(
        self,
        api_key: str | None = None,
        secret_key: str | None = None,
        *,
        url_override: str | None = None,
        http: HttpSettings | None = None,
        sleep: Sleep = time.sleep,
        pacer: RequestPacer | None = None,
    ) -> None:
        if bool(api_key) != bool(secret_key):
            raise AlpacaError("give both the Alpaca API key id and secret key, or neither")
        super().__init__(
            api_key or None, secret_key or None, raw_data=True, url_override=url_override
        )
        self._mg_configure(http or HttpSettings(), sleep, pacer)
