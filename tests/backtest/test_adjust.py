"""Adjust on read: Databento adjustment factors (JSON lines, plain and zstd) ingested by an
offline job, applied to minute bars made with databento_dbn. Adjusted prices equal raw
prices times the factors of the events still to come (relative 1e-9), volumes are divided
by split factors, and the read says which events it applied."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import zstandard

from multigate import Catalog
from multigate.backtest import applied_adjustments
from multigate.catalog import CatalogError
from multigate.exit_codes import ExitCode
from tests.backtest.helpers import minute_times, write_records

PRICES = ("open", "high", "low", "close")
CONFIG = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - {name: bars, mode: offline, path: inputs/bars/*.dbn.zst}
      - {name: factors, mode: offline, raw_dir: inputs/factors, schema: adjustment-factors}
"""


def factor(symbol, event_id, event, ex_date, value, status="A", **extra):
    """One adjustment-factors record as the Reference API writes it (a subset of fields)."""
    return {
        "security_id": "S-1",
        "event_id": event_id,
        "event": event,
        "issuer_name": "Test Corp",
        "security_type": "EQS",
        "operating_mic": "XNAS",
        "symbol": symbol,
        "nasdaq_symbol": symbol,
        "local_code": symbol,
        "status": status,
        "ex_date": ex_date,
        "factor": value,
        "close": 100.0,
        "currency": "USD",
        "sentiment": 1.0,
        "reason": 1,
        "option": 1,
        "detail": f"{event} test",
        "ts_created": "2023-11-01T00:00:00.123456Z",
        **extra,
    }


EVENTS = [
    factor("SYM1", "E-1", "FSPLT", "2023-11-15", 0.5),
    factor("SYM1", "E-1", "FSPLT", "2023-11-15", 0.5, currency="EUR"),  # repeated row
    factor("SYM1", "E-2", "DIV", "2023-11-16", 0.99),
    factor("SYM1", "E-3", "DIV", "2023-11-14", 0.5, status="D"),  # not to apply
    factor("SYM2", "E-4", "RSPLT", "2023-11-14", 10.0),
    factor("SYM2", "E-5", "DIV", "2023-12-01", 0.98),  # after every row: applies to all
    factor("OTHER", "E-6", "FSPLT", "2023-11-15", 0.25),  # a symbol not read
]


def write_jsonl(path: Path, records: list[dict], compress: bool) -> None:
    text = "".join(json.dumps(record) + "\n" for record in records).encode()
    path.write_bytes(zstandard.ZstdCompressor().compress(text) if compress else text)


@pytest.fixture
def adjusted_catalog(tmp_path, write_config, run_cli) -> Catalog:
    (tmp_path / "inputs/bars").mkdir(parents=True)
    (tmp_path / "inputs/factors").mkdir(parents=True)
    bars = {1: minute_times(5, 0.5, seed=1), 2: minute_times(5, 0.2, seed=2)}
    write_records(tmp_path / "inputs/bars/week.ohlcv-1m.dbn.zst", "ohlcv-1m", bars, 3, "XNAS.ITCH")
    write_jsonl(tmp_path / "inputs/factors/a.jsonl.zst", EVENTS[:4], compress=True)
    write_jsonl(tmp_path / "inputs/factors/b.jsonl", EVENTS[4:], compress=False)
    result = run_cli("--config", write_config(CONFIG))
    assert result.code == ExitCode.OK, result.err
    return Catalog.open(tmp_path / "data")


def expected_scale(raw: pd.DataFrame, splits_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the product of the factors of the distinct status-A events of its symbol
    whose ex-date (00:00 UTC) is after the row, for prices and for split volumes."""
    unique = {(e["symbol"], e["event_id"]): e for e in reversed(EVENTS) if e["status"] == "A"}
    price = np.ones(len(raw))
    volume = np.ones(len(raw))
    for event in unique.values():
        split = event["event"] in ("FSPLT", "RSPLT")
        if splits_only and not split:
            continue
        ex = pd.Timestamp(event["ex_date"], tz="UTC")
        before = ((raw["symbol"] == event["symbol"]) & (raw["ts_event"] < ex)).to_numpy()
        price[before] *= event["factor"]
        if split:
            volume[before] *= event["factor"]
    return price, volume


@pytest.mark.parametrize("mode", ["splits", "all"])
def test_adjusted_prices_are_raw_times_factors(adjusted_catalog, mode):
    raw = adjusted_catalog.read("databento/bars")
    got = adjusted_catalog.read("databento/bars", adjust=mode, adjustments="databento/factors")
    frame, adjusted = raw.to_pandas(), got.to_pandas()
    price, volume = expected_scale(frame, splits_only=mode == "splits")
    assert (price != 1).any() and (volume != 1).any()
    for column in PRICES:
        np.testing.assert_allclose(adjusted[column], frame[column] * price, rtol=1e-9, atol=0)
    np.testing.assert_allclose(adjusted["volume"], frame["volume"] / volume, rtol=1e-9, atol=0)
    for column in ("ts_event", "symbol", "instrument_id", "rtype"):
        assert adjusted[column].equals(frame[column])  # everything else as stored
    events = applied_adjustments(got)
    ids = sorted(event["event_id"] for event in events)
    assert ids == (["E-1", "E-4"] if mode == "splits" else ["E-1", "E-2", "E-4", "E-5"])
    assert applied_adjustments(raw) is None


def test_stored_rows_stay_raw(adjusted_catalog):
    before = adjusted_catalog.read("databento/bars")
    adjusted_catalog.read("databento/bars", adjust="all", adjustments="databento/factors")
    assert adjusted_catalog.read("databento/bars").equals(before)


def test_the_reference_dataset_keeps_the_vendor_records(adjusted_catalog):
    table = adjusted_catalog.read("databento/factors")
    assert table.num_rows == len(EVENTS)  # repeats and cancelled events are stored too
    assert table["ex_date"].type == table["date"].type
    assert sorted(table["event_id"].to_pylist()) == sorted(e["event_id"] for e in EVENTS)
    assert table["factor"].to_pylist() == pytest.approx(
        [e["factor"] for e in sorted(EVENTS, key=lambda e: (e["ex_date"], e["symbol"]))]
    )
    (record, *_) = adjusted_catalog.sidecars("databento/factors")
    assert record["vendor"]["schema"] == "adjustment-factors"


def test_adjust_a_range_and_a_symbol(adjusted_catalog):
    start, end = "2023-11-15T10:00Z", "2023-11-16T10:00Z"
    raw = adjusted_catalog.read("databento/bars", "SYM1", start, end).to_pandas()
    got = adjusted_catalog.read(
        "databento/bars", "SYM1", start, end, adjust="all", adjustments="databento/factors"
    )
    before = (raw["ts_event"] < pd.Timestamp("2023-11-16", tz="UTC")).to_numpy()
    want = raw["close"] * np.where(before, 0.99, 1.0)  # the split is already past
    np.testing.assert_allclose(got["close"].to_numpy(), want, rtol=1e-9, atol=0)
    assert [e["event_id"] for e in applied_adjustments(got)] == ["E-2"]


def test_an_adjusted_read_of_some_columns(adjusted_catalog):
    """The time and symbol columns are read for the adjustment, then left out."""
    full = adjusted_catalog.read("databento/bars", adjust="all", adjustments="databento/factors")
    got = adjusted_catalog.read(
        "databento/bars", columns=["close"], adjust="all", adjustments="databento/factors"
    )
    assert got.column_names == ["close"]
    assert got["close"].equals(full["close"])
    assert applied_adjustments(got) == applied_adjustments(full)


def test_an_adjusted_scan_streams_the_adjusted_read(adjusted_catalog):
    options = {"adjust": "all", "adjustments": "databento/factors"}
    whole = adjusted_catalog.read("databento/bars", **options)
    reader = adjusted_catalog.scan("databento/bars", batch_rows=700, **options)
    batches = list(reader)
    assert len(batches) > 3 and max(batch.num_rows for batch in batches) <= 1_400
    streamed = pa.Table.from_batches(batches, schema=reader.schema)
    assert streamed.replace_schema_metadata(None).equals(whole.replace_schema_metadata(None))
    some = adjusted_catalog.scan("databento/bars", "SYM2", columns=["close"], **options)
    assert some.schema.names == ["close"]
    want = adjusted_catalog.read("databento/bars", "SYM2", columns=["close"], **options)
    assert some.read_all()["close"].equals(want["close"])


def test_bars_of_an_adjusted_read(adjusted_catalog):
    got = adjusted_catalog.bars(
        "databento/bars", "1h", adjust="splits", adjustments="databento/factors"
    )
    read = adjusted_catalog.read("databento/bars", adjust="splits", adjustments="databento/factors")
    frame = read.to_pandas().set_index("ts_event")
    want = frame[frame["symbol"] == "SYM2"].resample("1h").agg({"high": "max", "volume": "sum"})
    want = want[frame[frame["symbol"] == "SYM2"].resample("1h").size() > 0]
    mine = got.to_pandas()
    mine = mine[mine["symbol"] == "SYM2"]
    np.testing.assert_allclose(mine["high"], want["high"], rtol=1e-12)
    np.testing.assert_allclose(mine["volume"], want["volume"], rtol=1e-12)
    assert applied_adjustments(got) is not None


def test_adjust_errors_are_clear(adjusted_catalog):
    with pytest.raises(CatalogError, match="adjustments='<dataset>'"):
        adjusted_catalog.read("databento/bars", adjust="splits")
    with pytest.raises(CatalogError, match="use None, 'splits' or 'all'"):
        adjusted_catalog.read("databento/bars", adjust="dividends", adjustments="databento/factors")
    with pytest.raises(CatalogError, match="needs adjust='splits' or 'all'"):
        adjusted_catalog.read("databento/bars", adjustments="databento/factors")
    with pytest.raises(CatalogError, match="holds no corporate actions"):
        adjusted_catalog.read("databento/bars", adjust="all", adjustments="databento/bars")


@pytest.mark.vendor_samples
def test_the_vendor_sample_dividend_applies_once(testdata, tmp_path, write_config, run_cli):
    """The vendor's own sample repeats one MSFT dividend row: the factor applies once."""
    sample = testdata / "databento/databento-python/REFERENCE/test_data.adjustment-factors.jsonl"
    (tmp_path / "inputs/factors").mkdir(parents=True)
    (tmp_path / "inputs/factors/msft.jsonl").write_bytes(sample.read_bytes())
    (tmp_path / "inputs/bars").mkdir(parents=True)
    days = pd.date_range("2007-02-07", "2007-02-16", freq="D", tz="UTC")
    times = {1: (days + pd.Timedelta(hours=15)).as_unit("ns").asi8}
    write_records(
        tmp_path / "inputs/bars/msft.ohlcv-1m.dbn.zst",
        "ohlcv-1m",
        times,
        4,
        "XNAS.ITCH",
        names={1: "MSFT"},
    )
    assert run_cli("--config", write_config(CONFIG)).code == ExitCode.OK
    catalog = Catalog.open(tmp_path / "data")
    raw = catalog.read("databento/bars").to_pandas()
    got = catalog.read("databento/bars", adjust="all", adjustments="databento/factors")
    vendor_factor = json.loads(sample.read_text().splitlines()[0])["factor"]
    before = (raw["ts_event"] < pd.Timestamp("2007-02-13", tz="UTC")).to_numpy()
    want = raw["close"] * np.where(before, vendor_factor, 1.0)
    np.testing.assert_allclose(got["close"].to_numpy(), want, rtol=1e-9, atol=0)
    (event,) = applied_adjustments(got)
    assert (event["event"], event["ex_date"], event["split"]) == (
        "DIV",
        str(date(2007, 2, 13)),
        False,
    )
    split_only = catalog.read("databento/bars", adjust="splits", adjustments="databento/factors")
    assert split_only["close"].to_pylist() == raw["close"].tolist()
