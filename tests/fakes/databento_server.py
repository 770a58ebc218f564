"""A local HTTPS fake of Databento's historical API, driven by the real `databento` client.

`databento.Historical(key, gateway=server.gateway)` rewrites every gateway to `https://`, so
the server speaks TLS with a throwaway CA made by `trustme`. The sync client (`requests`, used
by `metadata.*` and by `timeseries.get_range`) trusts it through `REQUESTS_CA_BUNDLE`
(`server.client_env()`). The async variants use `aiohttp`, which builds its verifying SSL
context once at import time and ignores REQUESTS_CA_BUNDLE (and a later SSL_CERT_FILE);
`server.trust_in_aiohttp()` adds the throwaway CA to that (private) process-wide context.

Endpoints (API v0, HTTP Basic auth, the key as user name and an empty password):

- `POST /v0/timeseries.get_range` form fields dataset, start, end (optional), symbols
  (comma separated, upper-cased by the client, `ALL_SYMBOLS` for all), schema, stype_in,
  stype_out, encoding (`dbn`), compression (`zstd` or `none`), limit (optional). Answers
  a zstd-compressed DBN v3 stream: Metadata header (dataset, schema, start, end, limit,
  stype_in/out, the requested symbols, not_found, one mapping per served symbol) then
  records sorted by time.
- `POST /v0/metadata.get_cost` same fields (minus encoding/compression), answers a bare
  JSON number: `usd_per_record` times the number of records get_range would send.
- `POST /v0/metadata.get_record_count` the same record count as a bare JSON integer.
- `GET /v0/metadata.get_dataset_range?dataset=...` answers `{"start", "end", "schema"}`.

Data: for each UTC calendar day touched by [start, end) and each served symbol,
`records_per_day` synthetic records (trades, mbp-1, tbbo, ohlcv-1m/1s/1h/1d), then filtered
on the index timestamp (ts_recv for trades/mbp-1, ts_event for ohlcv), so any split of a
range gives exactly the records of the whole. Same request, same bytes.

Errors: a wrong key gets 401 `{"detail": "..."}`; bad parameters 422 in the structured
vendor form `{"detail": {"case", "message", "status_code", "docs", "payload"}}` (which the
client turns into the message "case\\nmessage\\ndocumentation: docs"). Answers can be queued
per endpoint with `server.script(...)`, including a transfer cut after N body bytes and one
trickled N bytes at a time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import ssl
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import databento_dbn as dbn
import pandas as pd
import trustme
import zstandard

from tests.fakes.trickle import write_slowly

ALL_SYMBOLS = "ALL_SYMBOLS"
NS_PER_DAY = 86_400 * 10**9
PRICE_SCALE = 10**9  # DBN fixed-point prices: 1 unit = 1e-9
PUBLISHER_ID = 2  # XNAS.ITCH Nasdaq in Databento's publisher table; any value decodes
DEFAULT_SYMBOLS = ("AAPL", "MSFT", "SPY")
DOCS = "https://databento.com/docs/api-reference-historical/basics/errors"

_OHLCV_STEP = {
    "ohlcv-1s": 10**9,
    "ohlcv-1m": 60 * 10**9,
    "ohlcv-1h": 3600 * 10**9,
    "ohlcv-1d": NS_PER_DAY,
}
_OHLCV_RTYPE = {
    "ohlcv-1s": dbn.RType.OHLCV_1S,
    "ohlcv-1m": dbn.RType.OHLCV_1M,
    "ohlcv-1h": dbn.RType.OHLCV_1H,
    "ohlcv-1d": dbn.RType.OHLCV_1D,
}
SUPPORTED_SCHEMAS = ("trades", "mbp-1", "tbbo", *_OHLCV_STEP)
ENDPOINTS = {
    ("POST", "/v0/timeseries.get_range"): "get_range",
    ("POST", "/v0/metadata.get_cost"): "get_cost",
    ("POST", "/v0/metadata.get_record_count"): "get_record_count",
    ("GET", "/v0/metadata.get_dataset_range"): "get_dataset_range",
    ("POST", "/v0/adjustment_factors.get_range"): "adjustment_factors",
    ("POST", "/v0/corporate_actions.get_range"): "corporate_actions",
}


class RequestError(Exception):
    """A request the fake refuses with a vendor-style 4xx answer."""

    def __init__(self, status: int, case: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.case = case
        self.message = message


@dataclass
class Scripted:
    """One queued answer for the next call of an endpoint."""

    status: int = 200
    message: str | None = None
    case: str | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cut_after_bytes: int | None = None
    trickle: tuple[int, float] | None = None
    header_delay: float = 0.0


def parse_time(text: str) -> int:
    """A request time (ISO date, ISO datetime, or integer nanoseconds) as UTC nanoseconds."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    stamp = pd.Timestamp(text)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.tz_convert("UTC").value)


def _is_date_only(text: str) -> bool:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return len(text.strip()) == 10


def _day_start(ns: int) -> int:
    return ns - ns % NS_PER_DAY


def _noise(*parts: object) -> int:
    """A stable 64-bit number from the parts (no Python hash randomisation)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class FakeDatabentoServer:
    """Background HTTPS server on 127.0.0.1 answering like Databento's historical API.

    Public attributes: `gateway`, `ca_bundle`, `calls` (Counter by endpoint name),
    `requests` (list of (endpoint, form dict), without the key), `trickled_bytes` (body
    bytes each trickled answer sent before it ended or the client hung up), `key`, `symbols`,
    `records_per_day`, `usd_per_record`.
    """

    def __init__(
        self,
        key: str = "db-test-key",
        *,
        symbols: tuple[str, ...] | list[str] = DEFAULT_SYMBOLS,
        records_per_day: int = 5,
        usd_per_record: float = 0.0001,
        first_instrument_id: int = 1001,
        available_start: str = "2018-05-01",
        available_end: str | None = None,
    ) -> None:
        if not 1 <= records_per_day <= 1440:
            raise ValueError("records_per_day must be within 1..1440")
        self.key = key
        self.symbols = [s.upper() for s in symbols]
        self.instrument_ids = {s: first_instrument_id + i for i, s in enumerate(self.symbols)}
        self.records_per_day = records_per_day
        self.usd_per_record = usd_per_record
        self.available_start = available_start
        self.available_end = available_end
        self.reference: dict[str, list[dict[str, Any]]] = {
            "adjustment_factors": [],
            "corporate_actions": [],
        }
        """Reference records each endpoint serves (filtered by symbols and ex_date range)."""
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.trickled_bytes: list[int] = []  # body bytes each trickled answer got out
        self._scripts: dict[str, deque[Scripted]] = {}
        self._lock = threading.Lock()
        self._request_seq = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self.ca_bundle = ""
        self.gateway = ""

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeDatabentoServer:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self._tmpdir = tempfile.TemporaryDirectory(prefix="fake-databento-")
        self.ca_bundle = os.path.join(self._tmpdir.name, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_bundle)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)

        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.gateway = f"https://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-databento",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> FakeDatabentoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_env(self) -> dict[str, str]:
        """Environment for the sync client (requests) to trust this server."""
        return {"REQUESTS_CA_BUNDLE": self.ca_bundle}

    def trust_in_aiohttp(self) -> None:
        """Make the client's `*_async` methods trust this server, for the whole process.

        aiohttp verifies with a module-level context made at import (private name
        `_SSL_CONTEXT_VERIFIED`); adding a throwaway test CA to it is harmless.
        """
        from aiohttp import connector

        connector._SSL_CONTEXT_VERIFIED.load_verify_locations(cafile=self.ca_bundle)

    # ----------------------------------------------------------------- scripting
    def script(
        self,
        endpoint: str,
        status: int = 200,
        *,
        message: str | None = None,
        case: str | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        cut_after_bytes: int | None = None,
        trickle: tuple[int, float] | None = None,
        header_delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Queue the answer to the next `times` calls of `endpoint` (e.g. "get_range").

        An error status answers `{"detail": message}`, or the structured vendor form
        `{"detail": {"case", "message", ...}}` when `case` is given; `body` overrides both.
        `cut_after_bytes=N` (status 200) serves the real answer with its full Content-Length
        but closes the connection after N body bytes (at most length - 1). With status 200,
        `body` replaces the answer itself: `script("get_cost", body=b"NaN")` serves a quote
        that is not a price (`b"-0.5"`, `b"null"`, `b"[1]"`, `b""`, ...), and a get_range
        `body` serves any DBN stream (a huge one, to catch a run while it verifies).
        `trickle=(N, seconds)` (status 200) sends the real answer N bytes at a time, that
        many seconds apart. `header_delay=S` waits S seconds before the status line (a
        server slow to start answering).
        """
        if endpoint not in ENDPOINTS.values():
            raise ValueError(f"unknown endpoint {endpoint!r}")
        if cut_after_bytes is not None and (status != 200 or cut_after_bytes < 0):
            raise ValueError("cut_after_bytes needs status 200 and N >= 0")
        entry = Scripted(
            status, message, case, body, dict(headers or {}), cut_after_bytes, trickle, header_delay
        )
        with self._lock:
            self._scripts.setdefault(endpoint, deque()).extend([entry] * times)

    def _next_script(self, endpoint: str) -> Scripted | None:
        with self._lock:
            queue = self._scripts.get(endpoint)
            return queue.popleft() if queue else None

    def pending_scripts(self, endpoint: str) -> int:
        with self._lock:
            return len(self._scripts.get(endpoint, ()))

    # ----------------------------------------------------------------- data model
    def _resolve(self, form: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
        """(requested symbols as sent, served symbols, not found symbols)."""
        raw = form.get("symbols") or ALL_SYMBOLS
        requested = [s.strip() for s in raw.split(",") if s.strip()]
        if ALL_SYMBOLS in requested:
            return requested, list(self.symbols), []
        stype_in = form.get("stype_in", "raw_symbol")
        by_id = {str(i): s for s, i in self.instrument_ids.items()}
        served: list[str] = []
        missing: list[str] = []
        for sym in requested:
            if stype_in == "instrument_id":  # read as an integer, as the vendor does
                name = by_id.get(str(int(sym))) if sym.isdigit() else None
            else:
                name = sym.upper()
            if name in self.instrument_ids:
                if name not in served:
                    served.append(name)
            else:
                missing.append(sym)
        return requested, served, missing

    def _parse_range(self, form: dict[str, str]) -> tuple[int, int]:
        if not form.get("start"):
            raise RequestError(422, "start_required", "The `start` parameter is required.")
        try:
            start = parse_time(form["start"])
            if form.get("end"):
                end = parse_time(form["end"])
            elif _is_date_only(form["start"]):
                end = start + NS_PER_DAY  # the vendor forward-fills a date to the next day
            else:
                end = start + 1
        except (ValueError, TypeError) as exc:
            raise RequestError(422, "datetime_invalid", f"Invalid datetime: {exc}") from None
        if end < start:
            raise RequestError(
                422, "start_after_end", "Invalid time range: `start` must be before `end`."
            )
        if self.available_end is not None and end > parse_time(self.available_end):
            raise RequestError(
                422,
                "data_end_after_available_end",
                f"The dataset is available up to {self.available_end}; `end` is after that.",
            )
        return start, end

    def _validate(self, form: dict[str, str], *, stream: bool) -> None:
        if not form.get("dataset"):
            raise RequestError(422, "dataset_required", "The `dataset` parameter is required.")
        schema = form.get("schema", "trades")
        if schema not in SUPPORTED_SCHEMAS:
            raise RequestError(
                422, "schema_unsupported", f"The fake server does not serve schema '{schema}'."
            )
        if stream and form.get("encoding", "dbn") != "dbn":
            raise RequestError(422, "encoding_unsupported", "Only `dbn` encoding is served.")
        if stream and form.get("compression", "zstd") not in ("zstd", "none"):
            raise RequestError(422, "compression_unsupported", "Use `zstd` or `none`.")
        if form.get("limit") and not form["limit"].isdigit():
            raise RequestError(422, "limit_invalid", "`limit` must be a non-negative integer.")

    def _day_records(self, schema: str, symbol: str, day_ns: int) -> list[tuple[int, Any]]:
        """(index timestamp, record) for one symbol and UTC day; fixed by its arguments."""
        iid = self.instrument_ids[symbol]
        slot = self.symbols.index(symbol)
        n = self.records_per_day
        day = datetime.fromtimestamp(day_ns // 10**9, UTC).date().isoformat()
        base_px = (100 + 50 * slot) * PRICE_SCALE
        out: list[tuple[int, Any]] = []
        for k in range(n):
            noise = _noise(symbol, day, schema, k)
            price = base_px + (noise % 2_000_000) * 10**4  # 0..20 USD above base, 1e-5 steps
            size = 1 + (noise >> 24) % 500
            if schema in _OHLCV_STEP:
                step = _OHLCV_STEP[schema]
                slots_per_day = NS_PER_DAY // step
                first = (870 * 60 * 10**9) // step % slots_per_day  # 14:30 UTC when it fits
                ts = day_ns + ((first + k) % slots_per_day) * step
                if schema == "ohlcv-1d":
                    ts = day_ns  # one daily bar, whatever records_per_day says
                    if k:
                        break
                spread = (noise >> 40) % 50_000 * 10**4
                record: Any = dbn.OHLCVMsg(
                    rtype=_OHLCV_RTYPE[schema],
                    publisher_id=PUBLISHER_ID,
                    instrument_id=iid,
                    ts_event=ts,
                    open=price,
                    high=price + spread,
                    low=price - spread,
                    close=price + spread // 2,
                    volume=size * 100,
                )
                out.append((ts, record))
                continue
            # Trades / quotes spread over 14:30-21:00 UTC, one microsecond apart per symbol.
            ts_event = day_ns + 870 * 60 * 10**9 + k * (390 * 60 * 10**9 // n) + slot * 1000
            ts_recv = ts_event + 500 + noise % 1000
            side = dbn.Side.BID if noise & 1 else dbn.Side.ASK
            common = {
                "publisher_id": PUBLISHER_ID,
                "instrument_id": iid,
                "ts_event": ts_event,
                "price": price,
                "size": size,
                "side": side,
                "depth": 0,
                "ts_recv": ts_recv,
                "flags": 0x80,  # F_LAST
                "ts_in_delta": 100,
                "sequence": k + 1,
            }
            if schema == "trades":
                record = dbn.TradeMsg(action=dbn.Action.TRADE, **common)
            else:
                level = dbn.BidAskPair(
                    bid_px=price - 10**7,
                    ask_px=price + 10**7,
                    bid_sz=size,
                    ask_sz=size + 1,
                    bid_ct=1 + k % 5,
                    ask_ct=1 + k % 3,
                )
                action = dbn.Action.TRADE if schema == "tbbo" else dbn.Action.ADD
                record = dbn.MBP1Msg(action=action, levels=level, **common)  # one pair, not a list
            out.append((ts_recv, record))
        return out

    def select(self, form: dict[str, str]) -> tuple[list[Any], list[str], list[str], int, int]:
        """(records, requested symbols, not found, start, end) for a get_range-style form."""
        self._validate(form, stream=False)
        start, end = self._parse_range(form)
        schema = form.get("schema", "trades")
        requested, served, missing = self._resolve(form)
        keyed: list[tuple[int, int, Any]] = []
        day = _day_start(start)
        while day < end:
            for symbol in served:
                for ts, record in self._day_records(schema, symbol, day):
                    if start <= ts < end:
                        keyed.append((ts, self.instrument_ids[symbol], record))
            day += NS_PER_DAY
        keyed.sort(key=lambda item: (item[0], item[1]))
        records = [record for _, _, record in keyed]
        if form.get("limit") and int(form["limit"]) > 0:
            records = records[: int(form["limit"])]
        return records, requested, missing, start, end

    def record_count(self, form: dict[str, str]) -> int:
        return len(self.select(form)[0])

    def cost(self, form: dict[str, str]) -> float:
        return round(self.record_count(form) * self.usd_per_record, 10)

    def dbn_bytes(self, form: dict[str, str]) -> bytes:
        """The uncompressed DBN v3 stream get_range would send for this form."""
        self._validate(form, stream=True)
        records, requested, missing, start, end = self.select(form)
        _, served, _ = self._resolve(form)
        first_day = datetime.fromtimestamp(_day_start(start) // 10**9, UTC).date()
        last_day = datetime.fromtimestamp(_day_start(end - 1) // 10**9, UTC).date()
        end_day = max(last_day + timedelta(days=1), first_day + timedelta(days=1))
        by_id = form.get("stype_in", "raw_symbol") == "instrument_id"
        mappings = [
            SimpleNamespace(
                # as the vendor does: the input symbol, i.e. the id itself for instrument_id
                raw_symbol=str(self.instrument_ids[symbol]) if by_id else symbol,
                intervals=[
                    SimpleNamespace(
                        start_date=first_day,
                        end_date=end_day,
                        symbol=str(self.instrument_ids[symbol]),
                    )
                ],
            )
            for symbol in served
        ]
        limit = int(form["limit"]) if form.get("limit") else None
        metadata = dbn.Metadata(
            dataset=form["dataset"],
            start=start,
            end=end,
            limit=limit or None,
            stype_in=dbn.SType(form.get("stype_in", "raw_symbol")),
            stype_out=dbn.SType(form.get("stype_out", "instrument_id")),
            schema=dbn.Schema(form.get("schema", "trades")),
            symbols=requested,
            not_found=missing,
            mappings=mappings,
            version=3,
        )
        return metadata.encode() + b"".join(bytes(r) for r in records)

    def body_for_range(self, form: dict[str, str]) -> bytes:
        """The exact body get_range answers (zstd unless compression=none)."""
        raw = self.dbn_bytes(form)
        if form.get("compression", "zstd") == "none":
            return raw
        return zstandard.ZstdCompressor(level=3, write_content_size=True).compress(raw)

    def reference_body(self, endpoint: str, form: dict[str, str]) -> bytes:
        """The Reference API's answer: zstd-compressed JSON lines of the records whose
        symbol is asked for (or all) and whose ex_date is in [start, end)."""
        wanted = {s for s in form.get("symbols", "").split(",") if s} - {"ALL_SYMBOLS"}
        start = form.get("start", "")[:10]
        end = (form.get("end") or "9999-12-31")[:10]
        lines = [
            json.dumps(record) + "\n"
            for record in self.reference[endpoint]
            if (not wanted or record.get("symbol") in wanted)
            and start <= str(record.get("ex_date") or record.get("event_date")) < end
        ]
        return zstandard.ZstdCompressor().compress("".join(lines).encode())

    def dataset_range(self, dataset: str) -> dict[str, Any]:
        start = pd.Timestamp(self.available_start, tz="UTC")
        end = pd.Timestamp(self.available_end or "2100-01-01", tz="UTC")
        iso = {
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": end.isoformat().replace("+00:00", "Z"),
        }
        return {**iso, "schema": {schema: dict(iso) for schema in SUPPORTED_SCHEMAS}}

    def _next_request_id(self) -> str:
        with self._lock:
            self._request_seq += 1
            return f"fake-{self._request_seq}"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeDatabentoServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    # ------------------------------------------------------------------ helpers
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        all_headers = {
            "Content-Type": "application/json",
            "request-id": self.fake._next_request_id(),
            **(headers or {}),
        }
        for name, value in all_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _send_error_json(
        self,
        status: int,
        message: str,
        case: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if case is None:
            detail: Any = message
        else:
            detail = {
                "case": case,
                "message": message,
                "status_code": status,
                "docs": DOCS,
                "payload": None,
            }
        self._send(status, json.dumps({"detail": detail}).encode(), headers)

    def _send_cut(self, body: bytes, cut: int, content_type: str) -> None:
        keep = min(cut, max(len(body) - 1, 0))
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("request-id", self.fake._next_request_id())
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body[:keep])
        self.wfile.flush()
        self.close_connection = True
        try:  # drop the TCP connection without a TLS close_notify: a broken transfer
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send_trickle(self, body: bytes, trickle: tuple[int, float], content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("request-id", self.fake._next_request_id())
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        sent = write_slowly(self.wfile, body, *trickle)
        with self.fake._lock:
            self.fake.trickled_bytes.append(sent)
        self.close_connection = True

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, _ = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.fake.key

    def _read_form(self, method: str) -> dict[str, str]:
        url = urlsplit(self.path)
        form = dict(parse_qsl(url.query, keep_blank_values=True))
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form.update(parse_qsl(raw, keep_blank_values=True))
        return form

    # ------------------------------------------------------------------ dispatch
    def _handle(self, method: str) -> None:
        fake = self.fake
        path = urlsplit(self.path).path
        endpoint = ENDPOINTS.get((method, path))
        form = self._read_form(method)
        if endpoint is None:
            self._send_error_json(404, "Not Found")
            return
        with fake._lock:
            fake.calls[endpoint] += 1
            fake.requests.append((endpoint, dict(form)))
        if not self._authorised():
            self._send_error_json(
                401,
                "Authentication failed. Check your API key (and that it has not been revoked).",
            )
            return
        scripted = fake._next_script(endpoint)
        if scripted is not None and scripted.header_delay:
            time.sleep(scripted.header_delay)
        if scripted is not None and scripted.status != 200:
            if scripted.body is not None:
                self._send(scripted.status, scripted.body, scripted.headers)
            else:
                message = scripted.message or f"Scripted error {scripted.status}."
                self._send_error_json(scripted.status, message, scripted.case, scripted.headers)
            return
        try:
            if endpoint == "get_range":
                body = fake.body_for_range(form)
                content_type = "application/octet-stream"
            elif endpoint == "get_cost":
                body = json.dumps(fake.cost(form)).encode()
                content_type = "application/json"
            elif endpoint in ("adjustment_factors", "corporate_actions"):
                body = fake.reference_body(endpoint, form)
                content_type = "application/octet-stream"
            elif endpoint == "get_record_count":
                body = json.dumps(fake.record_count(form)).encode()
                content_type = "application/json"
            else:
                body = json.dumps(fake.dataset_range(form.get("dataset", ""))).encode()
                content_type = "application/json"
        except RequestError as exc:
            self._send_error_json(exc.status, exc.message, exc.case)
            return
        except Exception as exc:  # a bug in the fake: answer 500 rather than hang up
            self._send_error_json(500, f"fake server error: {type(exc).__name__}: {exc}")
            return
        if scripted is not None and scripted.body is not None:
            body = scripted.body
        if scripted is not None and scripted.cut_after_bytes is not None:
            self._send_cut(body, scripted.cut_after_bytes, content_type)
            return
        if scripted is not None and scripted.trickle is not None:
            self._send_trickle(body, scripted.trickle, content_type)
            return
        headers = {"Content-Type": content_type, **(scripted.headers if scripted else {})}
        self._send(200, body, headers)


def point_client_at(fake: FakeDatabentoServer, monkeypatch: Any) -> None:
    """Set what the real ``databento.Historical`` client of a run needs to use ``fake``:
    trust its throwaway CA, bypass any proxy for 127.0.0.1, and send its key
    (``monkeypatch``: pytest's, so all of it is undone after the test)."""
    for name, value in fake.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("DATABENTO_API_KEY", fake.key)
