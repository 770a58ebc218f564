"""A server trickling bytes no longer hangs a vendor: a transfer whose rate stays under the
``http:`` floor for a window is aborted and retried as a broken stream. The windows here are
tiny (1000 bytes/s over 0.5 s) and each trickled answer would take many seconds in full."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from pydantic import ValidationError

from multigate.config.models import HttpSettings
from multigate.errors import VendorError
from multigate.exit_codes import ExitCode
from multigate.http import get_bytes
from multigate.sources.alpaca.client import RetryingStockClient
from multigate.sources.alpaca.errors import AlpacaRateLimited
from multigate.sources.alpaca.fetch import fetch_bars
from multigate.sources.databento.api import DatabentoApi
from multigate.sources.databento.dbn_verify import verify_dbn_file
from multigate.storage.ledger import read_ledger
from multigate.transfer_watch import RateFloor, RateWatch, StalledTransfer
from tests.conftest import paid_databento_yaml
from tests.fakes.alpaca_server import FakeAlpacaServer, make_bars
from tests.fakes.cboe_server import CboeServer, Scripted, running_cboe_server
from tests.network.conftest import DATABENTO_KEY
from tests.network.test_retry_policy import REQUEST

FAST_CHECK = {"min_rate_bytes_per_second": 1000, "min_rate_window_seconds": 0.5}
TRICKLE = (20, 0.05)  # 400 bytes/s, under the floor
T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def stalled_retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if "; retry " in r.getMessage() and "stalled" in r.getMessage()
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_watch_aborts_only_a_window_under_the_floor():
    clock = FakeClock()
    watch = RateWatch(RateFloor(1000, 10), clock)
    clock.now = 10.0
    watch.add(10_000)  # exactly the floor: fine, a new window starts
    clock.now = 15.0
    watch.add(100)  # window not over yet
    clock.now = 20.0
    with pytest.raises(StalledTransfer, match="under the minimum of 1000 bytes/s"):
        watch.add(100)
    off = RateWatch(RateFloor(0, 10), clock)
    clock.now = 1000.0
    off.add(0)  # 0 bytes/s switches the watch off


def test_http_settings_rate_floor_defaults_and_validation():
    http = HttpSettings()
    assert (http.min_rate_bytes_per_second, http.min_rate_window_seconds) == (1000.0, 60.0)
    for bad in (
        {"min_rate_bytes_per_second": -1.0},
        {"min_rate_bytes_per_second": float("inf")},
        {"min_rate_window_seconds": 0.0},
        {"min_rate_window_seconds": float("nan")},
        {"min_rate_window": 5.0},
    ):
        with pytest.raises(ValidationError):
            HttpSettings(**bad)


def test_vix_trickled_body_is_aborted_and_retried(sleeps, caplog):
    body = b"DATE,OPEN,HIGH,LOW,CLOSE\n" + b"01/02/2004,17.96,18.68,17.54,18.22\n" * 150
    server = CboeServer(
        files={"VIX": body}, scripts={"VIX": [Scripted(body=body, trickle=TRICKLE)]}
    )
    http = HttpSettings(max_attempts=2, **FAST_CHECK)
    with running_cboe_server(server), requests.Session() as session:
        with caplog.at_level(logging.INFO, logger="multigate"):
            got = get_bytes(session, f"{server.url}/VIX_History.csv", http, sleep=sleeps)
    assert got == body
    assert server.total_requests == 2
    assert sleeps.calls == [1.0]
    assert len(stalled_retries(caplog)) == 1


def test_vix_always_trickled_fails_with_the_stall_as_cause(sleeps):
    body = b"x" * 5000
    server = CboeServer(scripts={"VIX": [Scripted(body=body, trickle=TRICKLE)] * 2})
    http = HttpSettings(max_attempts=2, **FAST_CHECK)
    with running_cboe_server(server), requests.Session() as session:
        with pytest.raises(VendorError, match="stalled") as info:
            get_bytes(session, f"{server.url}/VIX_History.csv", http, sleep=sleeps)
    assert isinstance(info.value.__cause__, StalledTransfer)


def test_alpaca_trickled_page_is_aborted_and_retried(sleeps, caplog):
    with FakeAlpacaServer() as server:
        server.add_bars("AAPL", make_bars(T0, 60))
        server.trickle(*TRICKLE)
        client = RetryingStockClient(
            server.key_id,
            server.secret_key,
            url_override=server.url,
            http=HttpSettings(max_attempts=2, **FAST_CHECK),
            sleep=sleeps,
        )
        with caplog.at_level(logging.INFO, logger="multigate"):
            got = fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=2))
        assert got["AAPL"] == make_bars(T0, 60)
        assert server.count() == 2
        assert sleeps.calls == [1.0]
        assert len(stalled_retries(caplog)) == 1

        server.trickle(*TRICKLE, times=2)
        with pytest.raises(AlpacaRateLimited, match="stalled") as info:
            fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=2))
        assert isinstance(info.value.__cause__, StalledTransfer)


class Attempts:
    """Records the (billable, complete) pairs the downloader is told after each attempt."""

    def __init__(self) -> None:
        self.seen: list[tuple[bool, bool]] = []

    def __call__(self, billable: bool, complete: bool) -> None:
        self.seen.append((billable, complete))


def test_databento_trickled_download_is_a_billable_broken_stream(databento, sleeps, tmp_path):
    body = databento.body_for_range(REQUEST)
    assert len(body) > 2000  # the trickle would take seconds, the window is 0.5 s
    databento.script("get_range", trickle=TRICKLE)
    api = DatabentoApi(
        DATABENTO_KEY, databento.gateway, HttpSettings(max_attempts=2, **FAST_CHECK), sleeps
    )
    target = tmp_path / "chunk.dbn.zst"
    attempts = Attempts()
    api.download(REQUEST, target, verify_dbn_file, after_attempt=attempts)
    assert target.read_bytes() == body
    assert databento.calls["get_range"] == 2
    assert attempts.seen == [(True, False), (True, True)]  # the stalled one counts as billed
    assert sleeps.calls == [1.0]


def test_databento_slow_first_byte_is_not_a_stall(databento, sleeps, tmp_path):
    """The SDK creates the file only once the headers are in: the rate window starts
    there, so a server that takes longer than a window to answer (but less than
    timeout_seconds) is neither aborted nor counted as billed twice."""
    databento.script("get_range", header_delay=1.6)  # > 3 windows of 0.5 s, no bytes yet
    http = HttpSettings(max_attempts=2, timeout_seconds=10, **FAST_CHECK)
    api = DatabentoApi(DATABENTO_KEY, databento.gateway, http, sleeps)
    target = tmp_path / "chunk.dbn.zst"
    attempts = Attempts()
    api.download(REQUEST, target, verify_dbn_file, after_attempt=attempts)
    assert target.read_bytes() == databento.body_for_range(REQUEST)
    assert databento.calls["get_range"] == 1
    assert attempts.seen == [(True, True)]
    assert sleeps.calls == []


def test_databento_first_byte_stays_bounded_by_the_timeout(databento, sleeps, tmp_path):
    databento.script("get_range", header_delay=2.5, times=2)
    http = HttpSettings(max_attempts=2, timeout_seconds=1, **FAST_CHECK)
    api = DatabentoApi(DATABENTO_KEY, databento.gateway, http, sleeps)
    with pytest.raises(VendorError):
        api.download(REQUEST, tmp_path / "chunk.dbn.zst", verify_dbn_file)
    assert databento.calls["get_range"] == 2


def test_databento_always_trickled_fails_with_the_stall_as_cause(databento, sleeps, tmp_path):
    databento.script("get_range", trickle=TRICKLE, times=2)
    api = DatabentoApi(
        DATABENTO_KEY, databento.gateway, HttpSettings(max_attempts=2, **FAST_CHECK), sleeps
    )
    target = tmp_path / "chunk.dbn.zst"
    attempts = Attempts()
    with pytest.raises(VendorError, match="stalled") as info:
        api.download(REQUEST, target, verify_dbn_file, after_attempt=attempts)
    assert isinstance(info.value.__cause__, StalledTransfer)
    assert attempts.seen == [(True, False), (True, False)]
    assert not target.exists()


def test_databento_trickled_quote_is_aborted_and_retried(databento, sleeps, caplog):
    quote = json.dumps(databento.cost(REQUEST)).encode() + b" " * 60  # JSON allows the spaces
    databento.script("get_cost", body=quote, trickle=(1, 0.05))  # 20 bytes/s
    api = DatabentoApi(
        DATABENTO_KEY, databento.gateway, HttpSettings(max_attempts=2, **FAST_CHECK), sleeps
    )
    with caplog.at_level(logging.INFO, logger="multigate"):
        cost = api.get_cost(REQUEST)
    assert cost == pytest.approx(databento.cost(REQUEST))
    assert databento.calls["get_cost"] == 2
    assert len(stalled_retries(caplog)) == 1


# min_rate_* : a transfer under 1000 bytes/s for half a second is stalled
DATABENTO_HTTP = {
    "max_attempts": 2,
    "backoff_seconds": 0,
    "min_rate_bytes_per_second": 1000,
    "min_rate_window_seconds": 0.5,
}


def test_databento_run_retries_a_trickle_and_ledgers_it_as_billed(
    databento, tmp_path, write_config, run_cli, monkeypatch
):
    monkeypatch.setenv("DATABENTO_API_KEY", DATABENTO_KEY)
    databento.script("get_range", trickle=TRICKLE)
    result = run_cli(
        "--config",
        write_config(
            paid_databento_yaml(
                databento.gateway, symbols=["AAPL"], end="2024-01-02", http=DATABENTO_HTTP
            )
        ),
    )
    assert result.code == ExitCode.OK, result.err
    assert "stalled" in result.err and "retry 1/1" in result.err
    assert databento.calls["get_range"] == 2
    ledger = read_ledger(tmp_path / "data/raw/databento/ledger.jsonl")
    failed = [e for e in ledger if e["event"] == "attempt_failed"]
    assert [e["billable"] for e in failed] == [True]
    assert [e["event"] for e in ledger].count("download") == 1


def test_databento_trickle_ends_each_attempt_within_one_window_with_a_true_count(
    databento, sleeps, tmp_path
):
    """A body trickled far under the floor (about 100 bytes/s against 1000) ends each
    attempt one window after its bytes begin (+10%), not two or three windows later, and
    the message counts the bytes that did arrive (the server's own count is the reference),
    not the 0 a 4 KiB read buffer shows."""
    window, attempts = 0.5, 2
    databento.script("get_range", trickle=(1, 0.01), times=attempts)
    http = HttpSettings(
        max_attempts=attempts, min_rate_bytes_per_second=1000, min_rate_window_seconds=window
    )
    api = DatabentoApi(DATABENTO_KEY, databento.gateway, http, sleeps)
    started = time.monotonic()
    with pytest.raises(VendorError, match="stalled") as info:
        api.download(REQUEST, tmp_path / "chunk.dbn.zst", verify_dbn_file)
    elapsed = time.monotonic() - started
    assert databento.calls["get_range"] == attempts
    connect_slack = 0.2 * attempts  # TLS handshake and headers, before the bytes begin
    assert elapsed <= attempts * window * 1.1 + connect_slack
    found = re.search(r"(\d+) bytes in ([\d.]+)s.*\((\d+) bytes received in all\)", str(info.value))
    assert found, str(info.value)
    in_window, seconds, in_all = int(found[1]), float(found[2]), int(found[3])
    assert window <= seconds <= window * 1.1
    deadline = time.monotonic() + 2  # the server sees the hang-up at its next write
    while len(databento.trickled_bytes) < attempts and time.monotonic() < deadline:
        time.sleep(0.01)
    sent = databento.trickled_bytes[-1]  # what the server got out before the client hung up
    assert 0 < in_window <= in_all <= sent
    assert in_all >= sent - 10  # at most a few bytes were still in flight
