"""moto's S3 server on 127.0.0.1, recording every request it answers.

The server is moto's own WSGI application (the one ``moto_server`` and
``ThreadedMotoServer`` run) behind werkzeug, wrapped in a middleware that records each
request's method and path, so a test can tell whether a run wrote to the bucket, and
answers the requests a test scripts to fail (``refuse``: S3's own 403 AccessDenied, as a
bucket policy would) before they reach moto, slows some down (``slow``: an upload that
takes a while, to stop a run in the middle of it), or plays a store that ignores conditional
writes (``ignore_conditions``: ``If-None-Match``/``If-Match`` dropped, as older S3-compatible
servers do).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

WRITE_METHODS = ("PUT", "POST", "DELETE")
_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message><RequestId>fake</RequestId></Error>"
)


_CONDITIONS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH")


@dataclass(frozen=True)
class Refusal:
    """Requests answered 403 AccessDenied: this method, on paths ending in ``ending``."""

    method: str
    ending: str

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and path.endswith(self.ending)


@dataclass
class S3Server:
    endpoint: str
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request answered, in order."""
    refusals: list[Refusal] = field(default_factory=list)
    """Requests answered 403 AccessDenied (see ``refuse``)."""

    def refuse(self, method: str, ending: str) -> None:
        """Answer every ``method`` request on a path ending in ``ending`` with 403
        AccessDenied until ``allow_all``."""
        self.refusals.append(Refusal(method, ending))

    ignored_headers: set[str] = field(default_factory=set)
    """Request headers (WSGI names) dropped before moto sees them."""

    slowdowns: list[tuple[Refusal, float]] = field(default_factory=list)
    """Requests answered only after a pause (see ``slow``)."""

    def slow(self, method: str, ending: str, seconds: float) -> None:
        """Wait ``seconds`` before answering ``method`` requests on paths ending in
        ``ending``."""
        self.slowdowns.append((Refusal(method, ending), seconds))

    def allow_all(self) -> None:
        self.refusals.clear()

    def ignore_conditions(self) -> None:
        """Act as a store without conditional writes: every write succeeds."""
        self.ignored_headers.update(_CONDITIONS)

    def reset(self) -> None:
        """Back to plain moto: no refusals, conditions honoured."""
        self.refusals.clear()
        self.ignored_headers.clear()
        self.slowdowns.clear()

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing-secret",
            region_name="us-east-1",
        )

    def new_bucket(self) -> str:
        name = f"lake-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def writes(self, bucket: str, *, ignore: Iterable[str] = ()) -> list[tuple[str, str]]:
        """The writing requests made to ``bucket`` (paths ending in ``ignore`` left out)."""
        skip = tuple(ignore)
        return [
            (method, path)
            for method, path in self.requests
            if method in WRITE_METHODS
            and path.startswith(f"/{bucket}")
            and not (skip and path.split("?", 1)[0].endswith(skip))
        ]

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under ``prefix``: key (relative to it) -> bytes."""
        client = self.client()
        found = {}
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                found[item["Key"][len(prefix) :].lstrip("/")] = body
        return found


class _Recording:
    def __init__(
        self,
        app: Callable[..., Any],
        requests: list[tuple[str, str]],
        refusals: list[Refusal],
        ignored_headers: set[str],
        slowdowns: list[tuple[Refusal, float]],
    ) -> None:
        self._app = app
        self._requests = requests
        self._refusals = refusals
        self._ignored_headers = ignored_headers
        self._slowdowns = slowdowns
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = unquote(environ.get("PATH_INFO", ""))
        query = environ.get("QUERY_STRING", "")
        method = environ["REQUEST_METHOD"]
        with self._lock:
            self._requests.append((method, f"{path}?{query}"))
            refused = any(refusal.matches(method, path) for refusal in self._refusals)
            for header in self._ignored_headers:
                environ.pop(header, None)
            pause = sum(
                seconds for which, seconds in self._slowdowns if which.matches(method, path)
            )
        if pause:
            time.sleep(pause)
        if refused:
            start_response(
                "403 Forbidden",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(_ACCESS_DENIED)))],
            )
            return [_ACCESS_DENIED]
        return self._app(environ, start_response)


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    requests: list[tuple[str, str]] = []
    refusals: list[Refusal] = []
    ignored: set[str] = set()
    slowdowns: list[tuple[Refusal, float]] = []
    app = _Recording(
        DomainDispatcherApplication(create_backend_app), requests, refusals, ignored, slowdowns
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield S3Server(f"http://{host}:{port}", requests, refusals, ignored, slowdowns)
    finally:
        server.shutdown()
        thread.join()
