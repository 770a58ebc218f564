"""Every DBN file converts to exactly what DBNStore.to_df produces.

Generated files cover every schema in DBN v1, v2 and v3; the real vendor samples (the
``vendor_samples`` group) confirm it on files the project did not make.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import databento as db
import databento_dbn as dbn
import numpy as np
import pandas as pd
import pytest
from databento.common.symbology import InstrumentMap
from dbn_helpers import (
    TESTDATA,
    assert_matches_vendor_any_version,
    by_symbol,
    layout_changes_on_upgrade,
    original_to_df,
    read_parquet_df,
    real_dbn_files,
    vendor_reference,
)
from dbn_versions import all_version_schemas, metadata_block, records_for, write_version_file

from multigate.sources.databento.dbn_convert import convert_dbn_file
from multigate.sources.databento.dbn_legacy import LEGACY_DEFINITION_FIELDS
from multigate.sources.databento.dbn_synthetic import write_dbn
from tests.conftest import vendor_params

FILES = real_dbn_files()
VENDOR_FILES = vendor_params(FILES, lambda p: str(p.relative_to(TESTDATA)))


def _check_file(src: Path, price_type: str, tmp_path: Path) -> None:
    outputs = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet", price_type=price_type)
    store = db.DBNStore.from_file(src)
    assert [o.schema for o in outputs] == [str(store.schema.value)]
    out = outputs[0]
    got = read_parquet_df(out.path)
    assert_matches_vendor_any_version(got, src, price_type)
    ref = vendor_reference(src, price_type)
    assert out.rows == len(ref)
    assert out.symbols == sorted(set(ref["symbol"].dropna()))
    index_col = ref.columns[0]
    if len(ref):
        assert out.first_ts == ref[index_col].min().value
        assert out.last_ts == ref[index_col].max().value
    else:
        assert out.first_ts is None and out.last_ts is None


@pytest.mark.parametrize("price_type", ["float", "fixed"])
@pytest.mark.parametrize(
    ("version", "schema"),
    all_version_schemas(),
    ids=[f"v{v}-{s}" for v, s in all_version_schemas()],
)
def test_generated_file_matches_vendor_to_df(
    version: int, schema: str, price_type: str, tmp_path: Path
) -> None:
    suffix = ".dbn" if schema.startswith("ohlcv") else ".dbn.zst"  # both encodings
    src = write_version_file(tmp_path, version, schema, suffix)
    _check_file(src, price_type, tmp_path)
    assert len(read_parquet_df(tmp_path / f"{schema}.parquet")) == 12


def _check_original_values(src: Path, tmp_path: Path) -> None:
    """Every column of the vendor's *non-upgraded* to_df is in the output with the same
    values (dtype may widen, e.g. quantity int32->int64; a widened integer's "undefined"
    sentinel (dtype max) maps to the new dtype's max, as the vendor's upgrade does)."""
    outputs = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet")
    got = read_parquet_df(outputs[0].path)
    orig = by_symbol(original_to_df(src))
    assert [c for c in orig.columns if c not in got.columns] == []
    for col in orig.columns:
        assert (got[col].isna() == orig[col].isna()).all(), col
        mask = got[col].notna()
        if got[col].dtype.kind in "iu" and orig[col].dtype != got[col].dtype:
            old_max = np.iinfo(orig[col].dtype).max
            new_max = np.iinfo(got[col].dtype).max
            undef = orig[col] == old_max
            assert (got.loc[undef, col] == new_max).all(), col
            mask &= ~undef
        assert (got.loc[mask, col].astype(str) == orig.loc[mask, col].astype(str)).all(), col


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("schema", ["definition", "statistics"])
def test_older_versions_keep_every_original_column(version: int, schema: str, tmp_path: Path):
    src = write_version_file(tmp_path, version, schema)
    _check_original_values(src, tmp_path)


@pytest.mark.parametrize("version", [1, 2])
def test_older_definitions_keep_the_fields_v3_dropped(version: int, tmp_path: Path) -> None:
    src = write_version_file(tmp_path, version, "definition")
    (out,) = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet")
    got = read_parquet_df(out.path)
    orig = by_symbol(original_to_df(src))
    # the generated file holds real values there: a settlement reference price and date
    assert orig["trading_reference_price"].iloc[0] == 4512.25
    assert set(orig["settl_price_type"]) == {3, 4}
    for col in LEGACY_DEFINITION_FIELDS:
        pd.testing.assert_series_equal(got[col], orig[col], check_exact=True)
    assert got["trading_reference_price"].isna().tolist() == [False] * 11 + [True]
    # placed where the original layout has them, between the same neighbours
    cols = list(got.columns)
    assert cols.index("trading_reference_price") == cols.index("max_price_variation") + 1
    assert cols.index("settl_price_type") == cols.index("price_display_format") + 1
    fixed = convert_dbn_file(src, lambda s: tmp_path / f"fixed.{s}.parquet", price_type="fixed")
    assert read_parquet_df(fixed[0].path)["trading_reference_price"].iloc[0] == 4_512_250_000_000


def test_v1_mixed_file_keeps_definition_fields(tmp_path: Path) -> None:
    """A v1 file with an unset schema (definitions between trades) keeps them too."""
    defs, trades = records_for(1, "definition"), records_for(1, "trades")
    body = b"".join(
        defs[i : i + 1].tobytes() + trades[i : i + 1].tobytes() for i in range(len(defs))
    )
    src = tmp_path / "mixed.v1.dbn"
    write_dbn(src, metadata_block(1, None), [np.frombuffer(body, dtype=np.uint8)])
    outputs = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet")
    assert [o.schema for o in outputs] == ["definition", "trades"]
    got = read_parquet_df(outputs[0].path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        orig = db.DBNStore.from_file(src)
        ref = [r for r in orig if r.rtype == 0x13]
    symbols = InstrumentMap()
    symbols.insert_metadata(orig.metadata)
    vendor = pd.DataFrame(  # to_df(schema=...) cannot read this v1 file: map as it maps
        {
            "instrument_id": [r.instrument_id for r in ref],
            "symbol": [symbols.resolve(r.instrument_id, r.pretty_ts_recv.date()) for r in ref],
        }
    )
    assert by_symbol(vendor)["instrument_id"].tolist() == got["instrument_id"].tolist()
    expected = write_version_file(tmp_path, 1, "definition")
    want = by_symbol(original_to_df(expected))
    for col in LEGACY_DEFINITION_FIELDS:
        pd.testing.assert_series_equal(got[col], want[col], check_exact=True)


# ----- the real vendor samples (group `vendor_samples`) -----------------------------------


def test_testdata_present(testdata: Path) -> None:
    assert len(FILES) >= 50  # guards against the glob silently matching nothing


@pytest.mark.parametrize("price_type", ["float", "fixed"])
@pytest.mark.parametrize("src", VENDOR_FILES)
def test_real_file_matches_vendor_to_df(
    testdata: Path, src: Path, price_type: str, tmp_path: Path
) -> None:
    _check_file(src, price_type, tmp_path)


UPGRADED = [p for p in FILES if layout_changes_on_upgrade(db.DBNStore.from_file(p))]


@pytest.mark.parametrize("src", vendor_params(UPGRADED, lambda p: p.name))
def test_real_upgraded_files_keep_original_values(testdata: Path, src: Path, tmp_path: Path):
    _check_original_values(src, tmp_path)


def _many_definitions(version: int, tmp_path: Path, ts_out: bool) -> Path:
    recs = np.resize(records_for(version, "definition"), 7_001)
    recs["instrument_id"] = np.arange(len(recs)) % 50 + 1
    recs["trading_reference_date"] = np.arange(len(recs)) % 60_000
    body = recs.tobytes()
    if ts_out:  # each record followed by the live gateway's 8-byte send time
        size = recs.dtype.itemsize
        recs["length"] = (size + 8) // 4
        raw = recs.tobytes()
        stamps = (np.arange(len(recs), dtype="<u8") + T_OUT).tobytes()
        body = b"".join(
            raw[i * size : (i + 1) * size] + stamps[i * 8 : i * 8 + 8] for i in range(len(recs))
        )
    meta = dbn.Metadata.decode(metadata_block(version, "definition"))
    header = dbn.Metadata(
        dataset=meta.dataset,
        start=meta.start,
        stype_in=meta.stype_in,
        stype_out=meta.stype_out,
        schema=meta.schema,
        symbols=list(meta.symbols),
        mappings=[],
        end=meta.end,
        ts_out=ts_out,
        version=version,
    ).encode()
    src = tmp_path / f"many{'-ts_out' if ts_out else ''}.definition.v{version}.dbn.zst"
    write_dbn(src, bytes(header), [np.frombuffer(body, dtype=np.uint8)])
    return src


T_OUT = 1_700_000_000_000_000_000


@pytest.mark.parametrize("version", [1, 2])
def test_older_definitions_across_many_reads(version: int, tmp_path: Path) -> None:
    """Thousands of definitions: several transcoder reads, records split between reads."""
    src = _many_definitions(version, tmp_path, ts_out=False)
    (out,) = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet", row_group_size=999)
    got = read_parquet_df(out.path)
    assert len(got) == 7_001
    assert_matches_vendor_any_version(got, src, "float")
    # the same records, each followed by a ts_out (the vendor's to_df cannot read those:
    # its homogeneous reader ignores ts_out), give the same table
    with_ts = _many_definitions(version, tmp_path, ts_out=True)
    (out_ts,) = convert_dbn_file(with_ts, lambda s: tmp_path / f"ts.{s}.parquet")
    pd.testing.assert_frame_equal(read_parquet_df(out_ts.path), got, check_exact=True)
