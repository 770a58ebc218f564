"""Synthetic DBN files (built with databento_dbn): symbology, mixed schemas, chunking."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import databento as db
import databento_dbn as dbn
import pyarrow.parquet as pq
import pytest
from dbn_helpers import assert_matches_vendor, read_parquet_df, row_group_sizes

from multigate.sources.databento.dbn_convert import convert_dbn_file
from multigate.sources.databento.dbn_synthetic import encode_metadata, write_synthetic_file
from tests.conftest import engine_outputs

DAY = 86_400_000_000_000
T0 = 1_700_006_400_000_000_000  # 2023-11-15T00:00:00Z
D0 = dt.date(2023, 11, 15)
D1 = D0 + dt.timedelta(days=1)
D2 = D0 + dt.timedelta(days=2)


def _vendor(path: Path, price_type: str = "float", schema: str | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return db.DBNStore.from_file(path).to_df(price_type=price_type, schema=schema).reset_index()


def _trade(iid: int, ts: int, price: int, seq: int) -> bytes:
    side = dbn.Side.BID if seq % 2 else dbn.Side.ASK
    rec = dbn.TradeMsg(
        publisher_id=1,
        instrument_id=iid,
        ts_event=ts,
        price=price,
        size=seq + 1,
        action=dbn.Action.TRADE,
        side=side,
        depth=0,
        ts_recv=ts + 7,
        sequence=seq,
    )
    return bytes(rec)


def _ohlcv(iid: int, ts: int, px: int) -> bytes:
    rtype = dbn.RType.from_schema(dbn.Schema.OHLCV_1M)
    return bytes(dbn.OHLCVMsg(rtype, 1, iid, ts, px, px + 5, px - 5, px + 1, 42))


def _write(path: Path, header: bytes, records: list[bytes]) -> Path:
    path.write_bytes(header + b"".join(records))
    return path


@pytest.fixture
def symbol_change_file(tmp_path: Path) -> Path:
    # instrument 100 is ESZ3 on day 0 and ESH4 on day 1 (roll); 200 is NQZ3 throughout;
    # 300 is never mapped (symbol must be null, as in to_df).
    mappings = {
        "ESZ3": [(D0, D1, "100")],
        "ESH4": [(D1, D2, "100")],
        "NQZ3": [(D0, D2, "200")],
    }
    header = encode_metadata("trades", T0, T0 + 2 * DAY, mappings)
    recs = []
    for i in range(40):
        ts = T0 + i * (DAY // 20)  # 40 records over two days
        iid = (100, 200, 300)[i % 3]
        recs.append(_trade(iid, ts, 4_500_000_000_000 + i * 250_000_000, i))
    return _write(tmp_path / "roll.trades.dbn", header, recs)


@pytest.mark.parametrize("row_group_size", [1_000_000, 7])
def test_symbol_changes_midway(symbol_change_file: Path, tmp_path: Path, row_group_size: int):
    out = convert_dbn_file(
        symbol_change_file, lambda s: tmp_path / f"{s}.parquet", row_group_size=row_group_size
    )
    got = read_parquet_df(out[0].path)
    ref = _vendor(symbol_change_file)
    assert_matches_vendor(got, ref)
    # the instrument really changes symbol in the reference, so the test is meaningful
    assert set(ref.loc[ref.instrument_id == 100, "symbol"]) == {"ESZ3", "ESH4"}
    assert got.loc[got.instrument_id == 300, "symbol"].isna().all()
    assert out[0].symbols == ["ESH4", "ESZ3", "NQZ3"]
    if row_group_size == 7:
        assert sum(row_group_sizes(out[0].path, 7)) == 40


def test_mixed_schema_file_is_split(tmp_path: Path) -> None:
    mappings = {"ESZ3": [(D0, D1, "100")], "NQZ3": [(D0, D1, "200")]}
    header = encode_metadata(None, T0, T0 + DAY, mappings)
    recs: list[bytes] = []
    for i in range(30):
        ts = T0 + i * 60_000_000_000
        recs.append(_trade(100 + 100 * (i % 2), ts, 4_000_000_000_000 + i, i))
        if i % 3 == 0:
            recs.append(_ohlcv(200, ts, 4_100_000_000_000 + i))
    src = _write(tmp_path / "mixed.dbn", header, recs)
    made: list[str] = []

    def output_for(schema: str) -> Path:
        made.append(schema)
        return tmp_path / f"{schema}.parquet"

    outputs = convert_dbn_file(src, output_for)
    assert [o.schema for o in outputs] == ["trades", "ohlcv-1m"] == made
    assert [o.rows for o in outputs] == [30, 10]
    for out in outputs:
        assert_matches_vendor(read_parquet_df(out.path), _vendor(src, schema=out.schema))


def test_mixed_schema_file_without_records(tmp_path: Path) -> None:
    src = _write(tmp_path / "empty-mixed.dbn", encode_metadata(None, T0, T0 + DAY, {}), [])
    assert convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet") == []
    assert not list(engine_outputs(tmp_path))


def test_zero_record_file_gives_empty_output_with_schema(tmp_path: Path) -> None:
    src = _write(tmp_path / "none.mbp-1.dbn", encode_metadata("mbp-1", T0, T0 + DAY, {}), [])
    outputs = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet")
    assert len(outputs) == 1 and outputs[0].rows == 0
    assert outputs[0].first_ts is None and outputs[0].symbols == []
    table = pq.read_table(outputs[0].path)
    assert table.num_rows == 0
    ref = _vendor(src)
    assert table.column_names == list(ref.columns)
    assert_matches_vendor(table.to_pandas(), ref)


@pytest.mark.parametrize("schema", ["trades", "mbp-1", "mbp-10", "ohlcv-1m", "bbo-1s"])
@pytest.mark.parametrize("price_type", ["float", "fixed"])
def test_multi_chunk_generated_file(tmp_path: Path, schema: str, price_type: str) -> None:
    src = tmp_path / f"gen.{schema}.dbn.zst"
    write_synthetic_file(src, schema, records=5_000, n_instruments=37, chunk=1_234)
    seen: list[int] = []
    out = convert_dbn_file(
        src,
        lambda s: tmp_path / f"{s}.parquet",
        price_type=price_type,
        row_group_size=1_000,
        progress=seen.append,
    )
    assert seen == [1_000, 2_000, 3_000, 4_000, 5_000]
    assert sum(row_group_sizes(out[0].path, 1_000)) == 5_000
    got = read_parquet_df(out[0].path)
    ref = _vendor(src, price_type)
    assert_matches_vendor(got, ref)
    assert len(out[0].symbols) == 37


def test_output_is_deterministic(tmp_path: Path) -> None:
    src = tmp_path / "det.trades.dbn"
    write_synthetic_file(src, "trades", records=20_000, n_instruments=11)
    a = convert_dbn_file(src, lambda s: tmp_path / f"a.{s}.parquet", row_group_size=3_000)
    b = convert_dbn_file(src, lambda s: tmp_path / f"b.{s}.parquet", row_group_size=3_000)
    assert a[0].path != b[0].path
    assert a[0].path.read_bytes() == b[0].path.read_bytes()
    assert (a[0].rows, a[0].first_ts, a[0].last_ts) == (b[0].rows, b[0].first_ts, b[0].last_ts)


def test_parquet_written_for_readers(tmp_path: Path) -> None:
    """lz4 pages, the page index, and statistics where readers prune (symbol, times)."""
    src = tmp_path / "z.trades.dbn"
    write_synthetic_file(src, "trades", records=100, n_instruments=3)
    out = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet")
    group = pq.ParquetFile(out[0].path).metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert {c.compression for c in columns.values()} == {"LZ4"}  # LZ4_RAW on disk
    assert all(c.has_offset_index for c in columns.values())
    for name in ("symbol", "ts_recv", "ts_event"):
        assert columns[name].has_column_index and columns[name].is_stats_set, name
    assert (columns["symbol"].statistics.min, columns["symbol"].statistics.max) == (
        "SYM00001",
        "SYM00003",
    )


def test_row_groups_are_exact_when_chunks_do_not_align(tmp_path: Path, monkeypatch) -> None:
    from multigate.sources.databento import dbn_convert

    monkeypatch.setattr(dbn_convert, "CHUNK_BYTES", 80 * 300)  # 300-record decode chunks
    src = tmp_path / "align.mbp-1.dbn"
    write_synthetic_file(src, "mbp-1", records=4_500, n_instruments=9)
    seen: list[int] = []
    out = convert_dbn_file(
        src, lambda s: tmp_path / f"{s}.parquet", row_group_size=1_000, progress=seen.append
    )
    # 500 rows per symbol: a symbol ends a group holding a quarter of 1,000 or more
    assert row_group_sizes(out[0].path, 1_000) == [500] * 9
    assert seen == list(range(300, 4_501, 300))
    assert_matches_vendor(read_parquet_df(out[0].path), _vendor(src))


def test_wide_schema_row_groups_are_capped(tmp_path: Path, monkeypatch) -> None:
    from multigate.sources.databento import dbn_convert

    monkeypatch.setattr(dbn_convert, "ROW_GROUP_MAX_BYTES", 368 * 700)  # 700 mbp-10 records
    src = tmp_path / "wide.mbp-10.dbn"
    write_synthetic_file(src, "mbp-10", records=2_000, n_instruments=3)
    out = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet")
    assert row_group_sizes(out[0].path, 700) == [667, 667, 666]  # one group per symbol
