"""A local fake of Alpaca's market-data bars endpoints, speaking the real wire format.

`GET /v2/stocks/bars` and `GET /v1beta3/crypto/us/bars` (the paths alpaca-py's
StockHistoricalDataClient / CryptoHistoricalDataClient call) with query parameters
symbols, timeframe, start, end (inclusive, as Alpaca), limit (default 1000, max 10000),
page_token, sort, feed, adjustment. Responses are `{"bars": {sym: [...]}, "next_page_token":
...}` with bars ordered by symbol then time, pages cut after `limit` bars across symbols.
Stock requests need the APCA-API-KEY-ID / APCA-API-SECRET-KEY headers; crypto requests
may omit them. Errors can be scripted (429 + Retry-After, 401, 403, 422, 5xx, ...), and so
can any 200 body (a str or bytes body is sent as it is: empty, `null`, `NaN` values, ...);
answers can be trickled a few bytes at a time (`server.trickle(...)`).
Pagination faults: `repeat_page_token` (every page carries that one token and a request
with it gets the first page again) and `endless_empty_pages` (empty pages, each with a
fresh token). Past `request_cap` requests the fake answers 410, so a client that never
stops fails instead of hanging the test.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.trickle import write_slowly

STOCK_PATH = "/v2/stocks/bars"
CRYPTO_PATH = "/v1beta3/crypto/us/bars"
SIP_MESSAGE = "subscription does not permit querying recent SIP data"
_TIMEFRAME = re.compile(r"^\d+(Min|T|Hour|H|Day|D|Week|W|Month|M)$")


def parse_time(text: str) -> datetime:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("timestamp without zone")
    return value.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_bars(
    start: datetime, count: int, step: timedelta = timedelta(minutes=1), base: float = 100.0
) -> list[dict[str, Any]]:
    """`count` distinct, deterministic vendor-style bars from `start`, `step` apart."""
    bars = []
    for i in range(count):
        price = round(base + (i % 97) * 0.25 + i * 0.001, 4)
        bars.append(
            {
                "t": rfc3339(start + i * step),
                "o": price,
                "h": round(price + 0.5, 4),
                "l": round(price - 0.5, 4),
                "c": round(price + 0.125, 4),
                "v": 1000 + i,
                "n": 10 + i % 7,
                "vw": round(price + 0.0625, 6),
            }
        )
    return bars


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None  # None: any path


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0
    bars: int = 0


class FakeAlpacaServer:
    """Start with `with FakeAlpacaServer() as server:`; point clients at `server.url`."""

    def __init__(
        self,
        key_id: str = "test-key-id",
        secret_key: str = "test-secret-key",
        *,
        sip_recent_cutoff: datetime | None = None,
    ) -> None:
        self.key_id = key_id
        self.secret_key = secret_key
        # If set, feed=sip requests whose end is missing or later than this get the 403.
        self.sip_recent_cutoff = sip_recent_cutoff
        self.max_page_size = 10_000
        self.data: dict[str, dict[str, list[dict[str, Any]]]] = {STOCK_PATH: {}, CRYPTO_PATH: {}}
        self._times: dict[str, dict[str, list[datetime]]] = {STOCK_PATH: {}, CRYPTO_PATH: {}}
        self.requests: list[Recorded] = []
        self.repeat_page_token: str | None = None
        self.endless_empty_pages = False
        self.request_cap = 300
        self._script: deque[Scripted] = deque()
        self._trickles: deque[tuple[int, float]] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- setup -----
    def add_bars(self, symbol: str, bars: list[dict[str, Any]], *, crypto: bool = False) -> None:
        path = CRYPTO_PATH if crypto else STOCK_PATH
        book, times = self.data[path], self._times[path]
        new_times = [parse_time(b["t"]) for b in bars]
        old_times = times.get(symbol, [])
        if new_times == sorted(set(new_times)) and (
            not old_times or not new_times or new_times[0] > old_times[-1]
        ):  # later bars only (the vendor's data growing day by day): append
            book[symbol] = [*book.get(symbol, []), *bars]
            times[symbol] = [*old_times, *new_times]
            return
        merged = {b["t"]: b for b in [*book.get(symbol, []), *bars]}
        book[symbol] = sorted(merged.values(), key=lambda b: parse_time(b["t"]))
        times[symbol] = [parse_time(b["t"]) for b in book[symbol]]

    def script(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        """Queue `times` answers for the next matching requests (FIFO), before normal ones."""
        if body is None:
            body = {"message": f"scripted {status}"}
        for _ in range(times):
            self._script.append(Scripted(status, body, dict(headers or {}), path))

    def trickle(self, step_bytes: int, interval: float, times: int = 1) -> None:
        """Send the next `times` answers `step_bytes` at a time, `interval` seconds apart."""
        with self._lock:
            self._trickles.extend([(step_bytes, interval)] * times)

    def script_rate_limit(self, retry_after: str | None = "2", times: int = 1) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.script(429, {"message": "too many requests."}, headers=headers, times=times)

    # ----- inspection -----
    def count(self, path: str | None = None, **query: str) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (path is None or r.path == path)
                and all(r.query.get(k) == v for k, v in query.items())
            )

    def bars_served(self, path: str | None = None) -> list[int]:
        """Bars on every successful page, in order."""
        with self._lock:
            return [r.bars for r in self.requests if r.status == 200 and path in (None, r.path)]

    # ----- lifecycle -----
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAlpacaServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeAlpacaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- request handling -----
    def _next_scripted(self, path: str) -> Scripted | None:
        for item in list(self._script):
            if item.path in (None, path):
                self._script.remove(item)
                return item
        return None

    def handle(
        self, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str], int]:
        if len(self.requests) > self.request_cap:
            return 410, {"message": "fake server: request cap reached"}, {}, 0
        scripted = self._next_scripted(path)
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers, 0
        if path not in self.data:
            return 404, {"message": "Not Found"}, {}, 0
        key, secret = headers.get("apca-api-key-id"), headers.get("apca-api-secret-key")
        if path == STOCK_PATH or key or secret:
            if key != self.key_id or secret != self.secret_key:
                return 401, {"message": "unauthorized."}, {}, 0
        return self._bars(path, query)

    def _bars(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str], int]:
        def reject(message: str) -> tuple[int, Any, dict[str, str], int]:
            return 422, {"code": 42210000, "message": message}, {}, 0

        symbols = [s for s in query.get("symbols", "").split(",") if s]
        if not symbols:
            return reject("missing symbols")
        if not _TIMEFRAME.match(query.get("timeframe", "")):
            return reject(f"invalid timeframe: {query.get('timeframe')!r}")
        try:
            start = parse_time(query["start"]) if "start" in query else None
            end = parse_time(query["end"]) if "end" in query else None
        except ValueError:
            return reject("invalid start or end")
        if start and end and end < start:
            return reject("end should not be before start")
        try:
            limit = int(query.get("limit", "1000"))
        except ValueError:
            return reject("invalid limit")
        if not 1 <= limit <= 10_000:
            return reject("invalid limit: must be between 1 and 10000")
        if query.get("adjustment", "raw") not in ("raw", "split", "dividend", "all"):
            return reject("invalid adjustment")
        cutoff = self.sip_recent_cutoff
        if path == STOCK_PATH and query.get("feed") == "sip" and cutoff is not None:
            if end is None or end > cutoff:
                return 403, {"message": SIP_MESSAGE}, {}, 0

        descending = query.get("sort") == "desc"
        rows: list[tuple[str, dict[str, Any]]] = []
        for symbol in sorted(set(symbols)):
            times = self._times[path].get(symbol, [])
            first = 0 if start is None else bisect.bisect_left(times, start)
            stop = len(times) if end is None else bisect.bisect_right(times, end)  # inclusive
            series = self.data[path].get(symbol, [])[first:stop]
            if descending:
                series.reverse()
            rows.extend((symbol, b) for b in series)

        fingerprint = hashlib.sha256(
            json.dumps({k: v for k, v in sorted(query.items()) if k != "page_token"}).encode()
        ).hexdigest()[:16]
        if self.endless_empty_pages:
            return 200, {"bars": {}, "next_page_token": f"endless-{len(self.requests)}"}, {}, 0
        offset = 0
        if self.repeat_page_token is not None and query.get("page_token") == self.repeat_page_token:
            pass  # the loop: this token leads back to the first page
        elif query.get("page_token"):
            try:
                token = json.loads(base64.urlsafe_b64decode(query["page_token"]))
                offset, token_query = int(token["o"]), token["q"]
            except (ValueError, KeyError, TypeError):
                return reject("invalid page token")
            if token_query != fingerprint:
                return reject("page token does not match the query")
        size = min(limit, self.max_page_size)
        page = rows[offset : offset + size]
        next_token = None
        if offset + size < len(rows):
            next_token = base64.urlsafe_b64encode(
                json.dumps({"o": offset + size, "q": fingerprint}).encode()
            ).decode()
        if self.repeat_page_token is not None:
            next_token = self.repeat_page_token
        bars: dict[str, list[dict[str, Any]]] = {}
        for symbol, bar in page:
            bars.setdefault(symbol, []).append(bar)
        return 200, {"bars": bars, "next_page_token": next_token}, {}, len(page)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAlpacaServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = Recorded(parts.path, query, headers)
        with self.fake._lock:
            self.fake.requests.append(record)
            status, body, extra, count = self.fake.handle(parts.path, query, headers)
            record.status, record.bars = status, count
            trickle = self.fake._trickles.popleft() if self.fake._trickles else None
        payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
        data = payload.encode() if isinstance(payload, str) else payload
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if trickle is not None:
            write_slowly(self.wfile, data, *trickle)
            self.close_connection = True
            return
        self.wfile.write(data)
