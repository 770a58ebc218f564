"""Catalog reads over real offline ingest runs of every source: exact equality with the
stored files, filters, columns, datasets, errors, SQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

from multigate import Catalog
from multigate.catalog import CatalogError, UnknownDataset
from multigate.storage.provenance import read_sidecar
from tests.catalog.helpers import DATASETS, assert_same_rows, reference, stored_files


def test_every_dataset_reads_exactly_as_stored(ingested):
    data_dir = ingested.parent / "data"
    catalog = Catalog.from_config(ingested)
    assert sorted(info.name for info in catalog.datasets()) == sorted(DATASETS)
    for name, (folder, time_column) in DATASETS.items():
        files = stored_files(data_dir, folder)
        assert files, name
        got = catalog.read(name)
        assert got.schema == pq.read_schema(files[0]), name
        assert_same_rows(got, reference(files, time_column))


def test_dataset_info_comes_from_the_sidecars(ingested):
    data_dir = ingested.parent / "data"
    infos = {info.name: info for info in Catalog.open(data_dir).datasets()}
    for name, (folder, time_column) in DATASETS.items():
        files = stored_files(data_dir, folder)
        sidecars = [read_sidecar(path) or {} for path in files]
        info = infos[name]
        assert (info.source, info.job) == tuple(name.split("/")[:2])
        assert info.time_column == time_column
        assert info.files == len(files)
        assert info.rows == sum(record["rows"] for record in sidecars)
        assert info.bytes == sum(path.stat().st_size for path in files)
        assert info.symbols == tuple(sorted({s for r in sidecars for s in r["symbols"]}))
        table = reference(files, time_column)
        first, last = pd.Timestamp(table[time_column].min()), pd.Timestamp(table[time_column].max())
        assert info.start == (first if first.tzinfo else first.tz_localize("UTC")).to_pydatetime()
        assert info.end == (last if last.tzinfo else last.tz_localize("UTC")).to_pydatetime()
        assert info.snapshot is not None and info.quality == {}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-01-03", "2024-01-04"),
        (datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 4)),
        (pd.Timestamp("2024-01-02 20:00"), pd.Timestamp("2024-01-03 10:30", tz="America/New_York")),
        (date(2024, 1, 3), "2024-01-03T15:00:00Z"),
    ],
)
def test_symbol_and_time_filters_on_bars(ingested, start, end):
    data_dir = ingested.parent / "data"
    want = reference(stored_files(data_dir, "alpaca/eq_1m"), "timestamp")
    low = (
        pd.Timestamp(start).tz_localize("UTC")
        if pd.Timestamp(start).tzinfo is None
        else pd.Timestamp(start)
    )
    high = (
        pd.Timestamp(end).tz_localize("UTC")
        if pd.Timestamp(end).tzinfo is None
        else pd.Timestamp(end)
    )
    want = want[(want.symbol == "SPY") & (want.timestamp >= low) & (want.timestamp < high)]
    assert len(want) > 0
    got = Catalog.open(data_dir).read("alpaca/eq_1m", symbols=["SPY"], start=start, end=end)
    assert_same_rows(got, want)


def test_start_is_inclusive_and_end_exclusive(ingested):
    catalog = Catalog.open(ingested.parent / "data")
    table = catalog.read("alpaca/eq_1m", symbols="MSFT")
    stamps = table["timestamp"].to_pandas()
    pick = stamps.iloc[100]
    got = catalog.read("alpaca/eq_1m", symbols="MSFT", start=pick, end=stamps.iloc[103])
    assert got["timestamp"].to_pylist() == list(stamps.iloc[100:103])


def test_date_column_filters_and_columns(ingested):
    data_dir = ingested.parent / "data"
    want = reference(stored_files(data_dir, "vix/vix_daily"), "date")
    got = Catalog.open(data_dir).read(
        "vix/vix_daily",
        start="1990-03-01",
        end=pd.Timestamp("1990-04-02"),
        columns=["close", "date"],
    )
    days = want[(want.date >= date(1990, 3, 1)) & (want.date < date(1990, 4, 2))]
    assert len(days) > 10
    assert_same_rows(got, days[["close", "date"]])


def test_databento_filters_prune_to_matching_rows(ingested):
    data_dir = ingested.parent / "data"
    want = reference(stored_files(data_dir, "databento/es_trades"), "ts_event")
    symbols = sorted(set(want.symbol))
    middle = want.ts_event.iloc[len(want) // 2]
    got = Catalog.open(data_dir).read("databento/es_trades", symbols=symbols[:2], start=middle)
    expected = want[want.symbol.isin(symbols[:2]) & (want.ts_event >= middle)]
    assert 0 < len(expected) < len(want)
    assert_same_rows(got, expected)


def test_unknown_dataset_lists_the_known_ones(ingested):
    catalog = Catalog.open(ingested.parent / "data")
    with pytest.raises(UnknownDataset) as error:
        catalog.read("vix/nope")
    for name in DATASETS:
        assert name in str(error.value)


def test_bad_filters_are_clear_errors(ingested):
    catalog = Catalog.open(ingested.parent / "data")
    with pytest.raises(CatalogError, match="not a date"):
        catalog.read("vix/vix_daily", start="yesterday-ish")
    with pytest.raises(CatalogError, match="unknown column"):
        catalog.read("vix/vix_daily", columns=["date", "closing"])


def test_schema_alias_names_a_single_schema_job(ingested):
    catalog = Catalog.open(ingested.parent / "data")
    assert (
        catalog.read("databento/es_trades/trades").num_rows
        == catalog.read("databento/es_trades").num_rows
    )


def test_sql_sees_every_dataset_as_a_view(ingested):
    data_dir = ingested.parent / "data"
    want = reference(stored_files(data_dir, "alpaca/eq_1m"), "timestamp")
    rows = (
        Catalog.open(data_dir)
        .sql(
            'select symbol, count(*) as n, sum(volume) as v from "alpaca/eq_1m" '
            "group by 1 order by 1"
        )
        .fetchall()
    )
    expected = want.groupby("symbol").agg(n=("volume", "size"), v=("volume", "sum"))
    assert rows == [(symbol, int(row.n), float(row.v)) for symbol, row in expected.iterrows()]


def test_reading_imports_no_vendor_sdk(ingested):
    code = (
        "import sys; from multigate import Catalog;"
        f"c = Catalog.from_config({str(ingested)!r}); c.read('databento/es_trades'); c.datasets();"
        "vendor = ('databento', 'alpaca', 'databento_dbn');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in vendor))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_table_whose_record_missed_a_commit_is_described_from_its_log(ingested, run_cli):
    from multigate.storage.table_record import ENTRIES_NAME, TABLE_SIDECAR
    from tests.catalog.helpers import write_vix

    data_dir = ingested.parent / "data"
    table = data_dir / "ingested/vix/vix_daily"
    stale = {name: (table / name).read_bytes() for name in (TABLE_SIDECAR, ENTRIES_NAME)}
    old_end = Catalog.open(data_dir).dataset("vix/vix_daily").end
    write_vix(ingested.parent, seed=42, days=400)  # a longer history
    assert run_cli("--config", ingested).code == 0
    for name, data in stale.items():  # as if the run stopped between its commit and record
        (table / name).write_bytes(data)
    catalog = Catalog.open(data_dir)
    assert catalog.dataset("vix/vix_daily").version == 1
    got = catalog.read("vix/vix_daily", start=old_end + timedelta(days=1))
    want = reference(stored_files(data_dir, "vix/vix_daily"), "date")
    want = want[want.date > old_end.date()]
    assert len(want) > 50
    assert_same_rows(got, want)


def test_a_catalog_opens_from_the_records_without_reading_a_footer(ingested, monkeypatch):
    """Tables' records are trusted while they describe their logs' newest versions: no
    Parquet footer and no commit is read to open the lake."""
    import pyarrow.parquet as pq

    data_dir = ingested.parent / "data"
    opened: list[str] = []
    real = pq.read_metadata
    monkeypatch.setattr(
        pq, "read_metadata", lambda path, *a, **k: opened.append(str(path)) or real(path, *a, **k)
    )
    catalog = Catalog.open(data_dir)
    assert sorted(info.name for info in catalog.datasets()) == sorted(DATASETS)
    assert opened == []


def test_tables_without_records_read_the_same_from_their_logs(ingested):
    from multigate.storage.table_record import TABLE_SIDECAR

    data_dir = ingested.parent / "data"
    recorded = Catalog.open(data_dir)
    for record in (data_dir / "ingested").rglob(TABLE_SIDECAR):
        record.write_text("{not json")  # hand-edited, or lost
    described = Catalog.open(data_dir)
    assert described.datasets() == recorded.datasets()
    assert sorted(info.name for info in described.datasets()) == sorted(DATASETS)
    for name in DATASETS:
        assert_same_rows(described.read(name), recorded.read(name).to_pandas())
    assert Catalog.open(data_dir, rebuild=True).datasets() == recorded.datasets()


def _flip_last_byte_of_column(path, column: str) -> None:
    """Flip the last byte of ``column``'s last data page in row group 0 (lz4 keeps a
    block's last bytes as literals: the file still decodes, to other values)."""
    meta = pq.ParquetFile(path).metadata.row_group(0)
    chunk = next(
        meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == column
    )
    first = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[first + chunk.total_compressed_size - 1] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_an_error_not_other_values(ingested):
    """Issue 16 item 12: a corruption that keeps the file's size is caught by the page
    checksums every read verifies, and named."""
    data_dir = ingested.parent / "data"
    (path,) = stored_files(data_dir, "databento/es_trades")[:1]
    before = pq.read_table(path)
    _flip_last_byte_of_column(path, "price")
    unchecked = pq.read_table(path)  # without verification: other values, no error
    assert not unchecked.equals(before)
    with pytest.raises(CatalogError, match=rf"{path.stem}.*(CRC|checksum)"):
        Catalog.open(data_dir).read("databento/es_trades")
