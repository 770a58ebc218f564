"""The Databento fake driven by the real `databento.Historical` client over HTTPS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import databento as db
import pandas as pd
import pytest
import requests
from databento.common.error import BentoClientError, BentoError, BentoHttpError, BentoServerError

from tests.fakes.databento_server import FakeDatabentoServer

pytestmark = [
    # Vendor code we cannot change: DBNStore.to_df on pandas 3, the async client on aiohttp.
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.set_index is deprecated"),
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]

KEY = "db-test-key"
DATASET = "XNAS.ITCH"
D1, D2, D3 = "2024-01-02", "2024-01-03", "2024-01-04"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatabentoServer]:
    with FakeDatabentoServer(key=KEY, symbols=("AAPL", "MSFT", "SPY"), records_per_day=4) as fake:
        for name, value in fake.client_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield fake


@pytest.fixture
def client(server: FakeDatabentoServer) -> db.Historical:
    return db.Historical(KEY, gateway=server.gateway)


def get_range(client: db.Historical, **kwargs: object) -> db.DBNStore:
    params: dict[str, object] = {
        "dataset": DATASET,
        "start": D1,
        "end": D3,
        "symbols": ["AAPL", "MSFT"],
        "schema": "trades",
    }
    params.update(kwargs)
    return client.timeseries.get_range(**params)


def test_gateway_is_https_on_loopback_and_client_keeps_it(server, client):
    assert server.gateway.startswith("https://127.0.0.1:")
    assert client.gateway == server.gateway
    assert Path(server.ca_bundle).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_get_range_returns_expected_rows_symbols_and_metadata(server, client):
    store = get_range(client)
    df = store.to_df()
    assert len(df) == 2 * 2 * 4  # days x symbols x records_per_day
    assert df["symbol"].value_counts().to_dict() == {"AAPL": 8, "MSFT": 8}
    assert set(df["instrument_id"]) == {1001, 1002}
    assert df.index.min() >= pd.Timestamp(D1, tz="UTC")
    assert df.index.max() < pd.Timestamp(D3, tz="UTC")
    assert df.index.is_monotonic_increasing
    assert (df["price"] > 0).all() and (df["size"] > 0).all()
    assert store.metadata.dataset == DATASET
    assert store.metadata.schema == "trades"
    assert store.metadata.symbols == ["AAPL", "MSFT"]
    assert store.metadata.start == pd.Timestamp(D1, tz="UTC").value
    assert store.metadata.end == pd.Timestamp(D3, tz="UTC").value
    assert server.calls["get_range"] == 1


def test_get_range_form_fields_are_recorded_without_the_key(server, client):
    get_range(client, limit=5)
    assert server.requests == [
        (
            "get_range",
            {
                "dataset": DATASET,
                "start": D1,
                "end": D3,
                "symbols": "AAPL,MSFT",
                "schema": "trades",
                "stype_in": "raw_symbol",
                "stype_out": "instrument_id",
                "encoding": "dbn",
                "compression": "zstd",
                "limit": "5",
            },
        )
    ]
    assert KEY not in repr(server.requests)


def test_limit_caps_records(client):
    assert len(get_range(client, limit=5).to_df()) == 5


def test_get_cost_is_configured_price_times_records_downloaded(server, client):
    cost = client.metadata.get_cost(
        dataset=DATASET, start=D1, end=D3, symbols=["AAPL", "MSFT"], schema="trades"
    )
    assert cost == pytest.approx(16 * 0.0001)
    assert cost == pytest.approx(len(get_range(client).to_df()) * server.usd_per_record)
    server.usd_per_record = 0.25
    cost_one_day = client.metadata.get_cost(
        dataset=DATASET, start=D1, end=D2, symbols="AAPL", schema="trades"
    )
    assert cost_one_day == pytest.approx(4 * 0.25)
    assert server.calls["get_cost"] == 2
    assert server.requests[0][0] == "get_cost"
    assert "encoding" not in server.requests[0][1]


def test_record_count_matches_get_range(client):
    count = client.metadata.get_record_count(
        dataset=DATASET, start=D1, end=D3, symbols="ALL_SYMBOLS", schema="ohlcv-1m"
    )
    assert count == len(get_range(client, symbols="ALL_SYMBOLS", schema="ohlcv-1m").to_df())
    assert count == 2 * 3 * 4


def test_day_split_equals_one_range_record_for_record(client):
    whole = get_range(client).to_df()
    parts = pd.concat(
        [get_range(client, start=D1, end=D2).to_df(), get_range(client, start=D2).to_df()]
    )
    pd.testing.assert_frame_equal(parts, whole)
    # also at an arbitrary intra-day cut, given as tz-aware timestamps
    cut = pd.Timestamp("2024-01-02T17:00:00", tz="UTC")
    left = get_range(client, start=pd.Timestamp(D1, tz="UTC"), end=cut).to_df()
    right = get_range(client, start=cut, end=D3).to_df()
    assert 0 < len(left) < len(whole)
    pd.testing.assert_frame_equal(pd.concat([left, right]), whole)


def test_same_request_gives_byte_identical_stream(client, tmp_path):
    first, second = tmp_path / "a.dbn.zst", tmp_path / "b.dbn.zst"
    get_range(client, path=first)
    get_range(client, path=second)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # zstd frame magic
    assert len(db.DBNStore.from_file(first).to_df()) == 16


def test_all_symbols_and_other_schemas(client):
    trades = get_range(client, symbols="ALL_SYMBOLS", start=D1, end=D2).to_df()
    assert sorted(trades["symbol"].unique()) == ["AAPL", "MSFT", "SPY"]
    bars = get_range(client, schema="ohlcv-1m", start=D1, end=D2).to_df()
    assert len(bars) == 8
    assert (bars["high"] >= bars["low"]).all()
    assert bars.index.min() == pd.Timestamp("2024-01-02T14:30:00", tz="UTC")
    quotes = get_range(client, schema="mbp-1", start=D1, end=D2, symbols="SPY").to_df()
    assert len(quotes) == 4
    assert (quotes["ask_px_00"] > quotes["bid_px_00"]).all()
    assert set(quotes["symbol"]) == {"SPY"}


def test_unknown_symbol_is_reported_not_found(client):
    store = get_range(client, symbols=["AAPL", "NOPE"], start=D1, end=D2)
    assert store.metadata.not_found == ["NOPE"]
    assert set(store.to_df()["symbol"]) == {"AAPL"}


def test_wrong_key_is_401_client_error(server):
    bad = db.Historical("db-wrong-key", gateway=server.gateway)
    with pytest.raises(BentoClientError) as info:
        bad.metadata.get_cost(dataset=DATASET, start=D1, end=D2, symbols="AAPL")
    assert info.value.http_status == 401
    assert isinstance(info.value.json_body["detail"], str)
    assert "Authentication failed" in str(info.value)
    with pytest.raises(BentoClientError):
        bad.timeseries.get_range(dataset=DATASET, start=D1, end=D2, symbols="AAPL")
    assert server.calls == {"get_cost": 1, "get_range": 1}
    assert "db-wrong-key" not in repr(server.requests)


def test_scripted_401_raises_client_error_then_script_is_consumed(server, client):
    server.script("get_range", status=401, message="API key revoked")
    with pytest.raises(BentoClientError) as info:
        get_range(client)
    assert info.value.http_status == 401
    assert info.value.message == "API key revoked"
    assert server.pending_scripts("get_range") == 0
    assert len(get_range(client).to_df()) == 16


def test_scripted_500_raises_server_error(server, client):
    server.script("get_range", status=500)
    with pytest.raises(BentoServerError) as info:
        get_range(client)
    assert info.value.http_status == 500
    assert not isinstance(info.value, BentoClientError)


def test_scripted_429_raises_client_error_with_status_and_headers(server, client):
    server.script("get_cost", status=429, message="Too many requests", headers={"Retry-After": "2"})
    with pytest.raises(BentoClientError) as info:
        client.metadata.get_cost(dataset=DATASET, start=D1, end=D2, symbols="AAPL")
    assert info.value.http_status == 429
    assert info.value.headers["Retry-After"] == "2"
    assert str(info.value).endswith("429 Too many requests")


def test_scripted_422_structured_detail_is_composed_by_the_client(server, client):
    server.script("get_range", status=422, case="symbology_invalid", message="bad symbols")
    with pytest.raises(BentoClientError) as info:
        get_range(client)
    assert info.value.http_status == 422
    assert info.value.message.splitlines()[:2] == ["symbology_invalid", "bad symbols"]
    assert "documentation: https://databento.com/docs" in info.value.message


def test_invalid_schema_is_422_from_the_server(client):
    with pytest.raises(BentoClientError) as info:
        get_range(client, schema="mbo")
    assert info.value.http_status == 422
    assert "schema_unsupported" in info.value.message


def test_cut_transfer_raises_bento_error_not_http_error(server, client):
    server.script("get_range", cut_after_bytes=100)
    with pytest.raises(BentoError) as info:
        get_range(client)
    assert not isinstance(info.value, BentoHttpError)
    assert "Error streaming response" in str(info.value)
    assert "IncompleteRead(100 bytes read" in str(info.value)
    assert len(get_range(client).to_df()) == 16  # the next call is whole again


def test_cut_transfer_to_a_path_leaves_a_partial_file(server, client, tmp_path):
    target = tmp_path / "part.dbn.zst"
    server.script("get_range", cut_after_bytes=0)
    with pytest.raises(BentoError):
        get_range(client, path=target)
    assert target.exists() and target.stat().st_size == 0
    with pytest.raises(FileExistsError):  # the client opens with mode "x": caller must clean up
        get_range(client, path=target)


def test_client_without_the_ca_bundle_fails_tls(server, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError):
        db.Historical(KEY, gateway=server.gateway).metadata.get_cost(
            dataset=DATASET, start=D1, end=D2, symbols="AAPL"
        )
    assert server.calls["get_cost"] == 0


def test_async_get_range_needs_the_ca_in_aiohttp(server, client):
    async_call = client.timeseries.get_range_async(
        dataset=DATASET, start=D1, end=D2, symbols="AAPL", schema="trades"
    )
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        asyncio.run(async_call)  # REQUESTS_CA_BUNDLE is set, yet aiohttp ignores it
    server.trust_in_aiohttp()
    store = asyncio.run(
        client.timeseries.get_range_async(
            dataset=DATASET, start=D1, end=D2, symbols="AAPL", schema="trades"
        )
    )
    assert len(store.to_df()) == 4


def test_dataset_range(client):
    answer = client.metadata.get_dataset_range(DATASET)
    assert answer["start"] == "2018-05-01T00:00:00Z"
    assert set(answer["schema"]) >= {"trades", "ohlcv-1m", "mbp-1"}
