"""One retry policy for every vendor: waits capped by ``max_backoff_seconds`` whatever a
server's Retry-After says, each retry logged, and the final error keeps its cause."""

from __future__ import annotations

import logging

import pytest
import requests
from databento.common.error import BentoError

from multigate.config.models import HttpSettings
from multigate.errors import VendorError
from multigate.http import get_bytes
from multigate.sources.databento.api import DatabentoApi
from tests.fakes.cboe_server import CboeServer, Scripted, running_cboe_server
from tests.network.conftest import DATABENTO_KEY

REQUEST = {
    "dataset": "XNAS.ITCH",
    "schema": "trades",
    "symbols": "AAPL",
    "stype_in": "raw_symbol",
    "start": "2024-01-02T00:00:00+00:00",
    "end": "2024-01-03T00:00:00+00:00",
}


def retry_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "; retry " in r.getMessage()]


def test_vix_waits_capped_retries_logged_and_last_error_is_the_cause(sleeps, caplog):
    server = CboeServer(
        files={"VIX": b"x" * 100},
        scripts={
            "VIX": [
                Scripted(status=503, headers={"Retry-After": "99999999"}),
                Scripted(body=b"x" * 100, truncate_to=10),
            ]
        },
    )
    http = HttpSettings(max_attempts=2, backoff_seconds=1, max_backoff_seconds=45)
    with running_cboe_server(server), requests.Session() as session:
        with caplog.at_level(logging.INFO, logger="multigate"):
            with pytest.raises(VendorError, match="failed after 2 attempts") as info:
                get_bytes(session, f"{server.url}/VIX_History.csv", http, sleep=sleeps)
    assert sleeps.calls == [45.0]  # not 99999999 s
    assert info.value.retryable
    assert isinstance(info.value.__cause__, requests.exceptions.ChunkedEncodingError)
    messages = retry_messages(caplog)
    assert len(messages) == 1 and "HTTP 503" in messages[0] and "retry 1/1 in 45.0s" in messages[0]


def test_databento_waits_capped_retries_logged_and_last_error_is_the_cause(
    databento, sleeps, caplog, tmp_path
):
    databento.script("get_range", status=429, headers={"Retry-After": "99999999"})
    databento.script("get_range", cut_after_bytes=100)
    http = HttpSettings(max_attempts=2, backoff_seconds=1, max_backoff_seconds=20)
    api = DatabentoApi(DATABENTO_KEY, databento.gateway, http, sleeps)
    target = tmp_path / "chunk.dbn.zst"
    with caplog.at_level(logging.INFO, logger="multigate"):
        with pytest.raises(VendorError, match="failed after 2 attempts") as info:
            api.download(REQUEST, target, lambda path: None)
    assert sleeps.calls == [20.0]  # not 99999999 s
    assert isinstance(info.value.__cause__, BentoError)
    assert "Error streaming response" in str(info.value.__cause__)
    messages = retry_messages(caplog)
    assert len(messages) == 1 and "HTTP 429" in messages[0] and "retry 1/1 in 20.0s" in messages[0]
    assert not target.exists()
