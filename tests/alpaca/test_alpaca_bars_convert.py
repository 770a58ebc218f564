import gzip
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from alpaca.data.models.bars import BarSet

from multigate.sources.alpaca.bars_convert import BARS_SCHEMA, BarsConflictError, bars_to_table
from multigate.sources.alpaca.bars_read import read_bars_file
from multigate.sources.alpaca.client import RetryingStockClient
from multigate.sources.alpaca.fetch import fetch_bars
from multigate.sources.alpaca.raw_store import read_raw_bars, write_raw_bars
from tests.conftest import vendor_params, vendor_testdata_root
from tests.fakes.alpaca_server import FakeAlpacaServer, make_bars

# Real API bodies (group `vendor_samples`, see tests/conftest.py).
TESTDATA = vendor_testdata_root() / "alpaca"
# Only bodies of GET /v2/stocks/bars (the folder also holds other endpoints' answers).
REAL_BODIES = sorted(
    p for p in TESTDATA.glob("test_*.json") if p.name != "INDEX.json" and "bars" in p.name
)
T0 = datetime(2023, 9, 25, 4, 0, tzinfo=UTC)
# Generated bodies in the same wire format: several symbols, a descending page, empty answers.
GENERATED_BODIES = {
    "multi": {
        "bars": {
            "AAPL": make_bars(T0, 5),
            "BRK.B": make_bars(T0, 3, base=400.0),
            "MSFT": make_bars(T0, 4, timedelta(days=1)),
        },
        "next_page_token": None,
    },
    "desc": {"bars": {"TSLA": make_bars(T0, 3, timedelta(days=1))[::-1]}, "next_page_token": None},
    "single-empty": {"bars": {"AAPL": []}, "next_page_token": None},
    "multi-empty": {"bars": {}, "next_page_token": None},
}
FLOATS = ["open", "high", "low", "close", "volume", "trade_count", "vwap"]


def sdk_frame(bars_by_symbol) -> pd.DataFrame:
    """alpaca-py's own decoding, as the independent reference, in our row order."""
    df = BarSet(bars_by_symbol).df.reset_index()
    if df.empty:
        return df
    df = df.sort_values(["symbol", "timestamp"], kind="stable").reset_index(drop=True)
    return df


def assert_matches_sdk(table: pa.Table, bars_by_symbol) -> None:
    ours = table.to_pandas()
    ref = sdk_frame(bars_by_symbol)
    if ref.empty:
        assert table.num_rows == 0
        return
    assert list(ref.columns) == list(ours.columns)
    for column in FLOATS:
        assert ours[column].dtype == ref[column].dtype == "float64", column
    assert str(ours["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert str(ref["timestamp"].dtype).endswith(", UTC]")
    ref = ref.assign(timestamp=ref["timestamp"].astype("datetime64[ns, UTC]"))
    pd.testing.assert_frame_equal(ours, ref, check_exact=True)


def _check_body_matches_sdk(body_path: Path) -> None:
    body = json.loads(body_path.read_text())
    table = bars_to_table(body["bars"])
    assert table.schema == BARS_SCHEMA
    assert table.num_rows == sum(len(v) for v in body["bars"].values())
    assert_matches_sdk(table, body["bars"])
    # the offline reader, given the very same API body, agrees
    assert read_bars_file(body_path).equals(table)


def _check_body_roundtrip(body_path: Path, tmp_path: Path) -> None:
    body = json.loads(body_path.read_text())
    table = bars_to_table(body["bars"])
    gz = tmp_path / (body_path.name + ".gz")
    gz.write_bytes(gzip.compress(body_path.read_bytes()))
    assert read_bars_file(gz).equals(table)
    raw = write_raw_bars(tmp_path / "raw" / "bars.json.gz", body["bars"])
    assert read_raw_bars(raw) == body["bars"]
    assert read_bars_file(raw).equals(table)


def _check_desc_body_sorted_ascending(body: dict) -> None:
    table = bars_to_table(body["bars"])
    times = table.column("timestamp").to_pylist()
    assert times == sorted(times) and len(times) == 3
    assert table.column("close").to_pylist() == [b["c"] for b in reversed(body["bars"]["TSLA"])]


def _generated(name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(GENERATED_BODIES[name]))
    return path


@pytest.mark.parametrize("name", sorted(GENERATED_BODIES))
def test_generated_bodies_match_alpaca_py_barset_df(name, tmp_path):
    _check_body_matches_sdk(_generated(name, tmp_path))


@pytest.mark.parametrize("name", sorted(GENERATED_BODIES))
def test_generated_bodies_roundtrip_raw_store_and_gzip(name, tmp_path):
    _check_body_roundtrip(_generated(name, tmp_path), tmp_path)


def test_generated_desc_body_is_sorted_ascending():
    _check_desc_body_sorted_ascending(GENERATED_BODIES["desc"])


@pytest.mark.parametrize("body_path", vendor_params(REAL_BODIES, lambda p: p.name))
def test_real_bodies_match_alpaca_py_barset_df(testdata, body_path):
    _check_body_matches_sdk(body_path)


@pytest.mark.parametrize("body_path", vendor_params(REAL_BODIES, lambda p: p.name))
def test_real_bodies_roundtrip_raw_store_and_gzip(testdata, body_path, tmp_path):
    _check_body_roundtrip(body_path, tmp_path)


def test_desc_body_is_sorted_ascending(testdata):
    _check_desc_body_sorted_ascending(
        json.loads((TESTDATA / "test_get_bars_desc.json").read_text())
    )


def test_fetched_bars_raw_file_and_table_parity(tmp_path):
    t0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
    with FakeAlpacaServer() as server:
        server.add_bars("AAPL", make_bars(t0, 1200))
        server.add_bars("BRK.B", make_bars(t0, 300, base=400.0))
        server.max_page_size = 500
        client = RetryingStockClient(
            server.key_id, server.secret_key, url_override=server.url, sleep=lambda s: None
        )
        fetched = fetch_bars(client, ["AAPL", "BRK.B"], "1Min", t0, t0 + timedelta(days=1))
    direct = bars_to_table(fetched)
    path = write_raw_bars(tmp_path / "chunk.json.gz", fetched)
    assert read_bars_file(path).equals(direct)
    assert direct.num_rows == 1500
    assert_matches_sdk(direct, fetched)


def test_raw_file_is_deterministic_and_api_shaped(tmp_path):
    bars = {
        "TSLA": make_bars(datetime(2024, 1, 2, tzinfo=UTC), 3),
        "AAPL": make_bars(datetime(2024, 1, 2, tzinfo=UTC), 2),
    }
    a = write_raw_bars(tmp_path / "a.json.gz", bars)
    b = write_raw_bars(tmp_path / "sub" / "b.json.gz", dict(reversed(bars.items())))
    assert a.read_bytes() == b.read_bytes()
    data = a.read_bytes()
    assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    body = json.loads(gzip.decompress(data))
    assert body == {"bars": bars, "next_page_token": None}
    assert list(body["bars"]) == ["AAPL", "TSLA"]  # sorted keys
    assert list(tmp_path.glob("**/*.tmp")) == []


def test_identical_duplicates_dropped_conflicting_raise():
    bar = make_bars(datetime(2024, 1, 2, tzinfo=UTC), 1)[0]
    table = bars_to_table({"AAPL": [bar, dict(bar)]})
    assert table.num_rows == 1
    with pytest.raises(BarsConflictError, match="AAPL"):
        bars_to_table({"AAPL": [bar, {**bar, "c": bar["c"] + 1}]})


def test_missing_optional_fields_become_null_and_empty_is_schema():
    bars = {"X": [{"t": "2024-01-02T00:00:00Z", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 10}]}
    table = bars_to_table(bars)
    assert table.column("trade_count").to_pylist() == [None]
    assert table.column("vwap").to_pylist() == [None]
    assert table.column("volume").type == pa.float64()
    empty = bars_to_table({})
    assert empty.num_rows == 0 and empty.schema == BARS_SCHEMA


def _reference_table():
    return bars_to_table(
        {
            "AAPL": make_bars(datetime(2024, 1, 2, 14, 30, tzinfo=UTC), 4),
            "MSFT": make_bars(datetime(2024, 1, 2, 14, 30, tzinfo=UTC), 2, base=300.0),
        }
    )


def test_csv_long_names_any_case(tmp_path):
    ref = _reference_table()
    df = ref.to_pandas()
    df["timestamp"] = df["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    df = df.rename(columns={"open": "Open", "close": "CLOSE", "symbol": "Symbol"})
    df["extra"] = "ignored"
    df = df.iloc[::-1]  # order must not matter
    path = tmp_path / "bars.csv"
    df.to_csv(path, index=False)
    assert read_bars_file(path).equals(ref)


def test_csv_short_names_with_symbol_argument_and_gzip(tmp_path):
    ref = _reference_table().filter(pa.compute.equal(_reference_table()["symbol"], "AAPL"))
    df = ref.to_pandas().drop(columns="symbol")
    df["timestamp"] = df["timestamp"].dt.tz_convert("America/New_York").astype(str)
    df = df.rename(
        columns={
            "timestamp": "t",
            "open": "o",
            "high": "h",
            "low": "l",
            "close": "c",
            "volume": "V",
            "trade_count": "n",
            "vwap": "VW",
        }
    )
    path = tmp_path / "aapl.csv.gz"
    df.to_csv(path, index=False, compression="gzip")
    assert read_bars_file(path, symbol="AAPL").equals(ref)
    with pytest.raises(ValueError) as info:
        read_bars_file(path)
    assert str(path) in str(info.value) and "symbol" in str(info.value)


def test_parquet_naive_timestamps_taken_as_utc(tmp_path):
    ref = _reference_table()
    df = ref.to_pandas()
    df["timestamp"] = df["timestamp"].dt.tz_localize(None)
    df["volume"] = df["volume"].astype("int64")
    path = tmp_path / "bars.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    assert read_bars_file(path).equals(ref)


def test_missing_columns_error_names_file_and_columns(tmp_path):
    path = tmp_path / "thin.csv"
    path.write_text("timestamp,open,close\n2024-01-02T00:00:00Z,1,2\n")
    with pytest.raises(ValueError) as info:
        read_bars_file(path, symbol="AAPL")
    message = str(info.value)
    assert str(path) in message
    assert "'high'" in message and "'low'" in message and "'volume'" in message
    assert "'open'" not in message.split("accepted")[0]


def test_reader_rejects_conflicts_bad_types_and_mismatched_symbol(tmp_path):
    dup = tmp_path / "dup.csv"
    dup.write_text("t,o,h,l,c,v,timestamp\n2024-01-02T00:00:00Z,1,2,0,1,5,2024-01-02T00:00:00Z\n")
    with pytest.raises(ValueError, match="both give 'timestamp'"):
        read_bars_file(dup, symbol="X")
    good = tmp_path / "x.csv"
    good.write_text("symbol,t,o,h,l,c,v\nX,2024-01-02T00:00:00Z,1,2,0,1,5\n")
    with pytest.raises(ValueError, match="file holds"):
        read_bars_file(good, symbol="Y")
    assert read_bars_file(good, symbol="X").num_rows == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,t,o,h,l,c,v\nX,2024-01-02T00:00:00Z,abc,2,0,1,5\n")
    with pytest.raises(ValueError, match="'open' is not numeric"):
        read_bars_file(bad)
    with pytest.raises(ValueError, match="unknown bar file type"):
        read_bars_file(shutil.copy(good, tmp_path / "x.txt"))
    notjson = tmp_path / "n.json"
    notjson.write_text('{"trades": {}}')
    with pytest.raises(ValueError, match="no top-level 'bars'"):
        read_bars_file(notjson)


def test_single_symbol_json_body_needs_a_symbol(tmp_path):
    bars = make_bars(datetime(2024, 1, 2, tzinfo=UTC), 3)
    path = tmp_path / "single.json"
    path.write_text(json.dumps({"bars": bars, "symbol": "AAPL", "next_page_token": None}))
    assert read_bars_file(path).equals(bars_to_table({"AAPL": bars}))
    nameless = tmp_path / "nameless.json"
    nameless.write_text(json.dumps({"bars": bars, "next_page_token": None}))
    with pytest.raises(ValueError, match="symbol"):
        read_bars_file(nameless)
    assert read_bars_file(nameless, symbol="AAPL").equals(bars_to_table({"AAPL": bars}))
