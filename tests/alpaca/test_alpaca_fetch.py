import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests

from multigate.config.models import HttpSettings
from multigate.http import parse_retry_after
from multigate.retry_policy import RetryPolicy
from multigate.sources.alpaca.client import RetryingCryptoClient, RetryingStockClient
from multigate.sources.alpaca.errors import (
    AlpacaError,
    AlpacaKeyRefused,
    AlpacaRateLimited,
    AlpacaRequestRejected,
    AlpacaSipNotPermitted,
)
from multigate.sources.alpaca.fetch import fetch_bars, parse_bar_time
from multigate.time_chunks import plan_chunks
from tests.conftest import ALPACA_KEY as KEY
from tests.conftest import ALPACA_SECRET as SECRET
from tests.fakes.alpaca_server import (
    CRYPTO_PATH,
    SIP_MESSAGE,
    STOCK_PATH,
    FakeAlpacaServer,
    make_bars,
)

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class SleepRecorder:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def server(alpaca_server) -> FakeAlpacaServer:
    return alpaca_server()


@pytest.fixture
def sleeps():
    return SleepRecorder()


def stock_client(server, sleeps, **http):
    return RetryingStockClient(
        KEY, SECRET, url_override=server.url, http=HttpSettings(**http), sleep=sleeps
    )


def test_multi_page_three_symbols_no_bar_lost_or_duplicated(server, sleeps):
    symbols = ["AAPL", "MSFT", "TSLA"]
    for i, symbol in enumerate(symbols):
        server.add_bars(symbol, make_bars(T0, 2500, base=100 + 50 * i))
    server.max_page_size = 1000  # server caps pages at 1000 bars, like a `limit` of 1000
    client = stock_client(server, sleeps)
    got = fetch_bars(client, symbols, "1Min", T0, T0 + timedelta(days=10))

    served = server.bars_served(STOCK_PATH)
    assert served == [1000] * 7 + [500]
    assert server.count(STOCK_PATH) == 8
    assert sum(len(v) for v in got.values()) == sum(served) == 7500
    for i, symbol in enumerate(symbols):
        assert got[symbol] == make_bars(T0, 2500, base=100 + 50 * i)
    # every later page carried the token of the page before; the first had none
    assert [("page_token" in r.query) for r in server.requests] == [False] + [True] * 7
    assert all(r.query["limit"] == "10000" for r in server.requests)
    assert server.requests[0].headers["apca-api-key-id"] == KEY
    assert sleeps.calls == []


def test_request_parameters_on_the_wire(server, sleeps):
    server.add_bars("AAPL", make_bars(T0, 3, step=timedelta(days=1)))
    client = stock_client(server, sleeps)
    fetch_bars(client, ["AAPL"], "1Day", T0, T0 + timedelta(days=5), adjustment="split", feed="IEX")
    query = server.requests[0].query
    assert query["symbols"] == "AAPL"
    assert query["timeframe"] == "1Day"
    assert query["adjustment"] == "split"
    assert query["feed"] == "iex"
    assert parse_bar_time(query["start"]) == T0
    assert parse_bar_time(query["end"]) == T0 + timedelta(days=5)


def test_end_is_exclusive_even_though_alpaca_is_inclusive(server, sleeps):
    server.add_bars("AAPL", make_bars(T0, 120))
    client = stock_client(server, sleeps)
    mid = T0 + timedelta(minutes=60)
    first = fetch_bars(client, ["AAPL"], "1Min", T0, mid)["AAPL"]
    second = fetch_bars(client, ["AAPL"], "1Min", mid, T0 + timedelta(minutes=120))["AAPL"]
    # the server did send the bar at `mid` in the first answer (inclusive end) ...
    assert server.bars_served() == [61, 60]
    # ... but adjacent chunks share no bar and together hold all 120
    assert len(first) == 60 and len(second) == 60
    assert first + second == make_bars(T0, 120)


def test_chunked_fetch_extension_fetches_only_missing_chunks(server, sleeps):
    start = datetime(2024, 1, 10, tzinfo=UTC)
    server.add_bars("SPY", make_bars(start, 24 * 120, step=timedelta(hours=1)))
    client = stock_client(server, sleeps)
    cache: dict = {}

    def sync(end):
        fetched = 0
        for chunk in plan_chunks(start, end, "month"):
            if chunk not in cache:
                cache[chunk] = fetch_bars(client, ["SPY"], "1Hour", chunk.start, chunk.end)
                fetched += 1
        return fetched

    assert sync(datetime(2024, 3, 15, tzinfo=UTC)) == 3  # Jan (partial), Feb, Mar 1-15
    requests_before = server.count(STOCK_PATH)
    assert sync(datetime(2024, 5, 1, tzinfo=UTC)) == 2  # Mar (now full) and Apr only
    assert server.count(STOCK_PATH) == requests_before + 2
    plan = plan_chunks(start, datetime(2024, 5, 1, tzinfo=UTC), "month")
    combined = [bar for chunk in plan for bar in cache[chunk].get("SPY", [])]
    expected = [
        b
        for b in make_bars(start, 24 * 120, step=timedelta(hours=1))
        if parse_bar_time(b["t"]) < datetime(2024, 5, 1, tzinfo=UTC)
    ]
    assert combined == expected


def test_429_then_success_honours_retry_after(server, sleeps):
    server.add_bars("AAPL", make_bars(T0, 5))
    server.script_rate_limit(retry_after="7")
    server.script_rate_limit(retry_after="2")
    client = stock_client(server, sleeps)
    got = fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert sleeps.calls == [7.0, 2.0]
    assert server.count(STOCK_PATH) == 3
    assert len(got["AAPL"]) == 5


def test_429_on_a_later_page_retries_only_that_page(server, sleeps):
    server.add_bars("AAPL", make_bars(T0, 25))
    server.max_page_size = 10
    client = stock_client(server, sleeps)
    # let page 1 through, then rate-limit page 2 once
    original = server.handle
    calls = {"n": 0}

    def handle(path, query, headers):
        calls["n"] += 1
        if calls["n"] == 2:
            return 429, {"message": "too many requests."}, {"Retry-After": "1"}, 0
        return original(path, query, headers)

    server.handle = handle
    got = fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert got["AAPL"] == make_bars(T0, 25)
    assert server.count(STOCK_PATH) == 4  # page1, 429, page2 retried, page3
    assert server.count(STOCK_PATH, page_token=server.requests[1].query["page_token"]) == 2
    assert sleeps.calls == [1.0]


def test_backoff_without_retry_after_and_exhaustion(server, sleeps):
    server.script(503, {"message": "service unavailable"}, times=10)
    client = stock_client(server, sleeps, max_attempts=4, backoff_seconds=0.5)
    with pytest.raises(AlpacaRateLimited) as info:
        fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert info.value.retryable is True
    assert info.value.status == 503
    assert "service unavailable" in str(info.value)
    assert sleeps.calls == [0.5, 1.0, 2.0]
    assert server.count() == 4


def test_exhausted_429_is_rate_limited(server, sleeps):
    server.script_rate_limit(retry_after="1000", times=3)
    client = stock_client(server, sleeps, max_attempts=3, max_backoff_seconds=30)
    with pytest.raises(AlpacaRateLimited, match="429"):
        fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert sleeps.calls == [30.0, 30.0]  # Retry-After capped by the policy
    assert server.count() == 3


def test_alpaca_py_own_retry_is_disabled(server, sleeps):
    client = stock_client(server, sleeps)
    assert client._retry == 0 and client._retry_codes == []
    server.script(504, {"message": "gateway timeout"}, times=1)
    server.add_bars("AAPL", make_bars(T0, 1))
    fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert server.count() == 2 and sleeps.calls == [1.0]  # our backoff, not alpaca-py's 3 s


def test_wrong_key_is_refused_without_leaking_it(server, sleeps):
    secret = "super-secret-value-123"
    client = RetryingStockClient("wrong-key-id", secret, url_override=server.url, sleep=sleeps)
    with pytest.raises(AlpacaKeyRefused) as info:
        fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert info.value.status == 401
    assert "key" in str(info.value).lower()
    assert secret not in str(info.value) and "wrong-key-id" not in str(info.value)
    assert sleeps.calls == []
    assert server.count() == 1


def test_403_key_refused_and_echoed_key_redacted(server, sleeps):
    server.script(403, {"message": f"forbidden for key {KEY}"})
    client = stock_client(server, sleeps)
    with pytest.raises(AlpacaKeyRefused) as info:
        fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert not isinstance(info.value, AlpacaSipNotPermitted)
    assert KEY not in str(info.value) and "***" in str(info.value)


def test_403_recent_sip_suggests_iex_or_earlier_end(sleeps):
    cutoff = datetime(2024, 6, 1, tzinfo=UTC)
    with FakeAlpacaServer(KEY, SECRET, sip_recent_cutoff=cutoff) as server:
        server.add_bars("AAPL", make_bars(cutoff - timedelta(days=2), 10))
        client = stock_client(server, sleeps)
        with pytest.raises(AlpacaSipNotPermitted) as info:
            fetch_bars(
                client,
                ["AAPL"],
                "1Min",
                cutoff - timedelta(days=2),
                cutoff + timedelta(days=1),
                feed="sip",
            )
        message = str(info.value)
        assert SIP_MESSAGE in message
        assert "feed: iex" in message and "end" in message
        assert isinstance(info.value, AlpacaRequestRejected)
        # the advice works: an earlier end is accepted
        ok = fetch_bars(client, ["AAPL"], "1Min", cutoff - timedelta(days=2), cutoff, feed="sip")
        assert len(ok["AAPL"]) == 10


def test_422_shows_vendor_message(server, sleeps):
    server.script(422, {"code": 42210000, "message": "invalid symbol: NOPE!"})
    client = stock_client(server, sleeps)
    with pytest.raises(AlpacaRequestRejected) as info:
        fetch_bars(client, ["NOPE!"], "1Min", T0, T0 + timedelta(hours=1))
    assert "invalid symbol: NOPE!" in str(info.value)
    assert "422" in str(info.value)
    assert sleeps.calls == []


def test_400_plain_text_body_is_shown(server, sleeps):
    server.script(400, "bad request: start is malformed")
    client = stock_client(server, sleeps)
    with pytest.raises(AlpacaRequestRejected, match="start is malformed"):
        fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))


def test_crypto_btc_usd_with_and_without_keys(server, sleeps):
    bars = make_bars(T0, 1500, base=42000.0)
    for bar in bars:
        bar["v"] = round(bar["v"] / 7, 8)  # fractional crypto volume
    server.add_bars("BTC/USD", bars, crypto=True)
    server.add_bars("ETH/USD", make_bars(T0, 10, base=2000.0), crypto=True)
    anonymous = RetryingCryptoClient(url_override=server.url, sleep=sleeps)
    got = fetch_bars(anonymous, ["BTC/USD"], "1Min", T0, T0 + timedelta(days=2))
    assert got == {"BTC/USD": bars}
    assert server.requests[0].path == CRYPTO_PATH
    assert server.requests[0].query["symbols"] == "BTC/USD"
    assert "apca-api-key-id" not in server.requests[0].headers
    keyed = RetryingCryptoClient(KEY, SECRET, url_override=server.url, sleep=sleeps)
    both = fetch_bars(keyed, ["BTC/USD", "ETH/USD"], "1Min", T0, T0 + timedelta(days=2))
    assert sorted(both) == ["BTC/USD", "ETH/USD"] and len(both["ETH/USD"]) == 10
    assert server.requests[-1].headers["apca-api-key-id"] == KEY
    with pytest.raises(ValueError, match="stock bars only"):
        fetch_bars(keyed, ["BTC/USD"], "1Min", T0, T0 + timedelta(days=1), feed="iex")


def test_symbols_without_bars_are_absent(server, sleeps):
    server.add_bars("AAPL", make_bars(T0, 3))
    got = fetch_bars(
        stock_client(server, sleeps), ["AAPL", "ZZZZ"], "1Min", T0, T0 + timedelta(hours=1)
    )
    assert list(got) == ["AAPL"]


def test_unreachable_server_is_retryable_error(sleeps):
    with FakeAlpacaServer() as server:
        url = server.url
    client = RetryingStockClient(
        KEY, SECRET, url_override=url, http=HttpSettings(max_attempts=2), sleep=sleeps
    )
    with pytest.raises(AlpacaRateLimited, match="unreachable") as info:
        fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert sleeps.calls == [1.0]
    assert isinstance(info.value.__cause__, requests.ConnectionError)  # the cause is kept


def test_huge_retry_after_is_capped_and_each_retry_logged(server, sleeps, caplog):
    server.add_bars("AAPL", make_bars(T0, 3))
    server.script_rate_limit(retry_after="99999999")
    server.script_rate_limit(retry_after="300")
    client = stock_client(server, sleeps, max_backoff_seconds=60)
    with caplog.at_level(logging.INFO, logger="multigate"):
        got = fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert got["AAPL"] == make_bars(T0, 3)
    assert sleeps.calls == [60.0, 60.0]  # the server asked for 99999999 s and 300 s
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2
    assert "HTTP 429" in retries[0] and "retry 1/4 in 60.0s" in retries[0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"symbols": []}, "symbol"),
        ({"symbols": ["A", "A"]}, "duplicate"),
        ({"timeframe": "2Day"}, "2Day"),
        ({"end": T0}, "after start"),
        ({"feed": "nasdaq"}, "feed"),
        ({"adjustment": "bogus"}, "adjustment"),
    ],
)
def test_argument_validation_before_any_request(server, sleeps, kwargs, match):
    args = {
        "symbols": ["AAPL"],
        "timeframe": "1Min",
        "start": T0,
        "end": T0 + timedelta(hours=1),
    } | kwargs
    client = stock_client(server, sleeps)
    with pytest.raises(ValueError, match=match):
        fetch_bars(
            client,
            args.pop("symbols"),
            args.pop("timeframe"),
            args.pop("start"),
            args.pop("end"),
            **args,
        )
    assert server.count() == 0


def test_client_requires_both_keys():
    with pytest.raises(AlpacaError):
        RetryingStockClient("", "x")
    with pytest.raises(AlpacaError):
        RetryingCryptoClient("only-key", None)


def test_parse_retry_after():
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(max_backoff_seconds=-1)
