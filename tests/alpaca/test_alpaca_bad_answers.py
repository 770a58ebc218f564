"""Bad 200 answers and endless pagination: a clean error before anything is stored.

The reference is alpaca-py itself: with `raw_data=True` it hands bodies back as parsed,
so a shape it cannot read ends in its own TypeError/ValueError/AttributeError and a bad
value passes straight through to whoever stores it.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from multigate.config.models import HttpSettings
from multigate.exit_codes import ExitCode
from multigate.sources.alpaca.bars_convert import bars_to_table
from multigate.sources.alpaca.client import RetryingStockClient
from multigate.sources.alpaca.errors import AlpacaBadAnswer, AlpacaError
from multigate.sources.alpaca.fetch import fetch_bars
from tests.conftest import ALPACA_KEY as KEY
from tests.conftest import ALPACA_SECRET as SECRET
from tests.fakes.alpaca_server import STOCK_PATH, FakeAlpacaServer, make_bars

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
T = "2024-01-02T14:30:00Z"
GOOD = '"o":1,"h":2,"l":0.5,"c":1.5,"v":10'

# Bodies alpaca-py cannot read at all: it raises its own (non-vendor) exception.
SHAPE_FAULTS = {
    "empty body": "",
    "null": "null",
    "a list": "[]",
    "bars null": '{"bars": null, "next_page_token": null}',
    "bars a list": '{"bars": [], "next_page_token": null}',
    "no bars key": '{"next_page_token": null}',
    "trades beside bars": '{"bars": {}, "trades": {}, "next_page_token": null}',
}
# Bodies alpaca-py passes through unchanged: stored as they are, they block the job.
REST = '"h":2,"l":0.5,"c":1.5,"v":10'


def one_bar(fields: str) -> str:
    return '{"bars": {"AAPL": [{' + fields + "}]}}"


VALUE_FAULTS = {
    "bar without t": one_bar(GOOD),
    "t not a time": one_bar(f'"t": "yesterday", {GOOD}'),
    "integer t": one_bar(f'"t": 1704205800, {GOOD}'),
    "zone-less t": one_bar(f'"t": "2024-01-02T14:30:00", {GOOD}'),
    "o not a number": one_bar(f'"t": "{T}", "o": "abc", {REST}'),
    "o missing": one_bar(f'"t": "{T}", {REST}'),
    "o null": one_bar(f'"t": "{T}", "o": null, {REST}'),
    "NaN value": one_bar(f'"t": "{T}", "o": NaN, {REST}'),
    "vwap Infinity": one_bar(f'"t": "{T}", {GOOD}, "vw": Infinity'),
    "bar not an object": '{"bars": {"AAPL": [5]}}',
    "bar null": '{"bars": {"AAPL": [null]}}',
    "bars of a symbol not a list": '{"bars": {"AAPL": {"t": "x"}}}',
    "two bars at one t": '{"bars": {"AAPL": ['
    f'{{"t": "{T}", {GOOD}}}, {{"t": "2024-01-02T15:30:00+01:00", "o": 9, {REST}}}]}}}}',
}


# Bodies alpaca-py's own JSON reading chokes on (RecursionError), or that hold a string
# which is not Unicode text (a lone surrogate escape) and could never be stored.
TEXT_FAULTS = {
    "nested 100000 deep": '{"bars": {"AAPL": [' + "[" * 100_000 + "]" * 100_000 + "]}}",
    "lone surrogate t": one_bar(f'"t": "2024-01-02T14:30:00Z\\ud800", {GOOD}'),
    "lone surrogate extra field": one_bar(f'"t": "{T}", {GOOD}, "x": "\\ud800"'),
    "lone surrogate symbol": '{"bars": {"\\udc00": [{' + f'"t": "{T}", {GOOD}' + "}]}}",
}

# Pages in a valid shape that answer something else than what was asked: alpaca-py takes
# them as they are (the duplicated key: JSON keeps the last list, the first is lost), and
# stored as they are they make a chunk that looks complete but is empty or wrong.
WRONG_PAGES = {
    "only another symbol's bars": '{"bars": {"TSLA": [{' + f'"t": "{T}", {GOOD}' + "}]}}",
    "a bar years after the range": one_bar(f'"t": "2031-01-02T14:30:00Z", {GOOD}'),
    "a bar years before the range": one_bar(f'"t": "2019-01-02T14:30:00Z", {GOOD}'),
    "a symbol key twice": '{"bars": {"AAPL": [{'
    + f'"t": "{T}", {GOOD}'
    + '}], "AAPL": [{'
    + f'"t": "2024-01-02T14:31:00Z", {GOOD}'
    + "}]}}",
}


@pytest.fixture
def server(alpaca_server) -> FakeAlpacaServer:
    return alpaca_server()


def our_client(server: FakeAlpacaServer) -> RetryingStockClient:
    return RetryingStockClient(
        KEY, SECRET, url_override=server.url, http=HttpSettings(), sleep=lambda s: None
    )


def alpaca_py_bars(server: FakeAlpacaServer) -> object:
    plain = StockHistoricalDataClient(KEY, SECRET, raw_data=True, url_override=server.url)
    request = StockBarsRequest(
        symbol_or_symbols=["AAPL"], timeframe=TimeFrame.Minute, start=T0, end=T0 + timedelta(1)
    )
    return plain.get_stock_bars(request)


@pytest.mark.parametrize("body", SHAPE_FAULTS.values(), ids=SHAPE_FAULTS.keys())
def test_alpaca_py_itself_fails_on_these_shapes(server, body):
    server.script(200, body, path=STOCK_PATH)
    with pytest.raises((TypeError, ValueError, AttributeError)):
        alpaca_py_bars(server)


@pytest.mark.parametrize("body", VALUE_FAULTS.values(), ids=VALUE_FAULTS.keys())
def test_alpaca_py_itself_passes_these_values_through(server, body):
    server.script(200, body, path=STOCK_PATH)
    bars = alpaca_py_bars(server)
    assert isinstance(bars, dict) and list(bars) == ["AAPL"]


@pytest.mark.parametrize("body", WRONG_PAGES.values(), ids=WRONG_PAGES.keys())
def test_alpaca_py_itself_takes_these_wrong_pages_as_they_are(server, body):
    server.script(200, body, path=STOCK_PATH)
    bars = alpaca_py_bars(server)
    assert isinstance(bars, dict) and sum(len(b) for b in bars.values()) == 1


@pytest.mark.parametrize(
    "body",
    [*SHAPE_FAULTS.values(), *VALUE_FAULTS.values(), *TEXT_FAULTS.values(), *WRONG_PAGES.values()],
    ids=[*SHAPE_FAULTS.keys(), *VALUE_FAULTS.keys(), *TEXT_FAULTS.keys(), *WRONG_PAGES.keys()],
)
def test_every_bad_answer_is_a_clean_error_naming_symbol_and_range(server, body):
    server.script(200, body, path=STOCK_PATH)
    with pytest.raises(AlpacaBadAnswer) as info:
        fetch_bars(our_client(server), ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    message = str(info.value)
    assert "AAPL" in message and "2024-01-02 14:30..2024-01-02 15:30 UTC" in message
    assert info.value.retryable is False
    assert server.count() == 1  # not retried within the run


def test_repeated_page_token_stops_at_once(server):
    server.add_bars("AAPL", make_bars(T0, 30))
    server.max_page_size = 10
    server.repeat_page_token = "same-token"
    with pytest.raises(AlpacaBadAnswer, match="repeats"):
        fetch_bars(our_client(server), ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    assert server.count() == 2  # the second page repeated the token of the first


def test_pages_past_what_the_range_can_hold_stop(server):
    server.endless_empty_pages = True
    with pytest.raises(AlpacaBadAnswer, match="more than the range can"):
        fetch_bars(our_client(server), ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
    # one hour of minute bars fits on one page; ten spare pages, then a clear stop
    assert server.count() == 11


def test_bars_past_what_the_range_can_hold_stop(server):
    server.add_bars("AAPL", make_bars(T0, 200, step=timedelta(seconds=1)))  # 200 in 200 s
    with pytest.raises(AlpacaBadAnswer, match="more than the range can hold"):
        fetch_bars(our_client(server), ["AAPL"], "1Min", T0, T0 + timedelta(minutes=5))


def test_small_pages_of_a_real_range_still_pass(server):
    server.add_bars("AAPL", make_bars(T0, 600))
    server.max_page_size = 100  # a server cutting pages short: 6 pages, within the slack
    got = fetch_bars(our_client(server), ["AAPL"], "1Min", T0, T0 + timedelta(hours=10))
    assert got["AAPL"] == make_bars(T0, 600)


CONFIG = """\
data_dir: data
sources:
  alpaca:
    enabled: true
    mode: api
    base_url: {url}
    http: {{max_attempts: 2, backoff_seconds: 0}}
    requests_per_minute: 0
    jobs:
      - name: bars
        mode: api
        symbols: [AAPL, MSFT]
        timeframe: 1Min
        start: {start}
        {end}
        feed: iex
"""


@pytest.mark.parametrize(
    "fault",
    ["two bars at one t", "o null", "bars null", "NaN value", *TEXT_FAULTS, *WRONG_PAGES],
)
def test_job_fails_cleanly_stores_nothing_and_the_next_run_asks_again(
    tmp_path, write_config, run_cli, server, fault
):
    server.add_bars("AAPL", make_bars(T0, 50))
    config = write_config(CONFIG.format(url=server.url, start="2024-01-02", end="end: 2024-01-02"))
    faults = {**VALUE_FAULTS, **SHAPE_FAULTS, **TEXT_FAULTS, **WRONG_PAGES}
    body = faults[fault]
    server.script(200, body, path=STOCK_PATH)
    failed = run_cli("--config", config)
    assert failed.code == ExitCode.JOB_FAILED
    assert "Traceback" not in failed.err + failed.out
    assert "AAPL,MSFT 2024-01-02 00:00..2024-01-03 00:00 UTC" in failed.err
    assert not list((tmp_path / "data").rglob("*.json.gz"))
    again = run_cli("--config", config)
    assert again.code == ExitCode.OK, again.err
    assert server.count(STOCK_PATH) == 2


def test_endless_job_starting_in_the_future_is_a_config_error(
    tmp_path, write_config, run_cli, server
):
    future = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    config = write_config(CONFIG.format(url=server.url, start=future, end=""))
    for args in ((), ("--dry-run",)):
        result = run_cli("--config", config, *args)
        assert result.code == ExitCode.CONFIG_ERROR, result.err
        assert "Traceback" not in result.err and "in the future" in result.err
    assert server.requests == []


ODD_VALUES: list[object] = [
    None,
    "",
    "abc",
    "2024-01-02T14:30:00",
    "2024-01-02",
    0,
    -1,
    1.5,
    10**30,
    True,
    [],
    {},
    [1],
    {"x": 1},
    float("nan"),
    float("inf"),
]


def mutated_page(rng: random.Random) -> str:
    """A valid two-bar page with one random part replaced or deleted."""
    bars = make_bars(T0, 2)
    body: dict[str, object] = {"bars": {"AAPL": bars}, "next_page_token": None}
    targets: list[tuple[dict[str, object] | list[object], object]] = [
        (body, "bars"),
        (body, "next_page_token"),
        (body["bars"], "AAPL"),  # type: ignore[list-item]
        (bars, rng.randrange(2)),  # type: ignore[list-item]
        *((bars[rng.randrange(2)], key) for key in ("t", "o", "h", "l", "c", "v", "n", "vw")),
    ]
    container, key = rng.choice(targets)
    if rng.random() < 0.2 and isinstance(container, dict):
        container.pop(key, None)  # type: ignore[call-overload]
    else:
        container[key] = rng.choice(ODD_VALUES)  # type: ignore[index]
    return json.dumps(body)  # NaN and Infinity written as JavaScript literals, as a server might


def test_seeded_mutations_of_a_page_give_bars_or_a_clean_error(server):
    rng = random.Random(7)
    client = our_client(server)
    outcomes = {"bars": 0, "refused": 0}
    for _ in range(300):
        server.script(200, mutated_page(rng), path=STOCK_PATH)
        try:
            got = fetch_bars(client, ["AAPL"], "1Min", T0, T0 + timedelta(hours=1))
        except AlpacaBadAnswer as exc:
            assert "AAPL" in str(exc)
            outcomes["refused"] += 1
        except AlpacaError:  # a token the server then rejects (HTTP 422)
            outcomes["refused"] += 1
        else:  # what passes converts exactly as the converter will read it back
            bars_to_table(got, "mutated")
            outcomes["bars"] += 1
    assert outcomes["refused"] > 150 and outcomes["bars"] > 10


@pytest.mark.parametrize("fault", list(TEXT_FAULTS))
def test_offline_json_files_with_these_bodies_fail_by_name(tmp_path, fault):
    from multigate.sources.alpaca.bars_read import read_bars_file

    path = tmp_path / "bars.json"
    path.write_text(TEXT_FAULTS[fault])
    with pytest.raises(ValueError, match=r"bars\.json"):
        read_bars_file(path, symbol=None)
