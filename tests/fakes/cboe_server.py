"""A local stand-in for CBOE's CDN: serves ``/<INDEX>_History.csv`` over real HTTP on
127.0.0.1, counts requests, and can be scripted to fail (status codes, truncated or HTML
bodies, a body trickled a few bytes at a time) the way a real CDN sometimes does."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.fakes.trickle import write_slowly


@dataclass
class Scripted:
    """One canned answer, used once, before the real file is served."""

    status: int = 200
    body: bytes | None = None
    truncate_to: int | None = None  # send only this many bytes of a longer Content-Length
    headers: dict[str, str] = field(default_factory=dict)
    trickle: tuple[int, float] | None = None  # (bytes, seconds): send the body that slowly


@dataclass
class CboeServer:
    files: dict[str, bytes] = field(default_factory=dict)  # "VIX" -> CSV bytes
    scripts: dict[str, list[Scripted]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    url: str = ""

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def answer(self, path: str) -> Scripted:
        name = path.rsplit("/", 1)[-1].removesuffix("_History.csv")
        queue = self.scripts.get(name)
        if queue:
            return queue.pop(0)
        if name in self.files and path.endswith("_History.csv"):
            return Scripted(body=self.files[name], headers={"Content-Type": "text/csv"})
        return Scripted(status=404, body=b"<html><body>Not Found</body></html>")


def _handler(server: CboeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.requests[self.path] += 1
            answer = server.answer(self.path)
            body = answer.body or b""
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if answer.trickle is not None:
                write_slowly(self.wfile, body, *answer.trickle)
                self.close_connection = True
                return
            if answer.truncate_to is not None:
                self.wfile.write(body[: answer.truncate_to])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@contextmanager
def running_cboe_server(server: CboeServer) -> Iterator[CboeServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/api/global/us_indices/daily_prices"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
