"""Every real DBN test file converts to exactly what DBNStore.to_df produces."""

from __future__ import annotations

import warnings
from pathlib import Path

import databento as db
import numpy as np
import pytest
from dbn_helpers import (
    SKIP_REASON,
    TESTDATA,
    assert_matches_vendor,
    layout_changes_on_upgrade,
    read_parquet_df,
    real_dbn_files,
    vendor_reference,
)

from multigate.sources.databento.dbn_convert import convert_dbn_file

FILES = real_dbn_files()
IDS = [str(p.relative_to(TESTDATA)) for p in FILES]


def test_testdata_present() -> None:
    if not TESTDATA.is_dir():
        pytest.skip(SKIP_REASON)
    assert len(FILES) >= 50  # guards against the glob silently matching nothing


@pytest.mark.skipif(not FILES, reason=SKIP_REASON)
@pytest.mark.parametrize("price_type", ["float", "fixed"])
@pytest.mark.parametrize("src", FILES, ids=IDS)
def test_matches_vendor_to_df(src: Path, price_type: str, tmp_path: Path) -> None:
    outputs = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet", price_type=price_type)
    store = db.DBNStore.from_file(src)
    assert [o.schema for o in outputs] == [str(store.schema.value)]
    out = outputs[0]
    got = read_parquet_df(out.path)
    ref = vendor_reference(src, price_type)
    assert_matches_vendor(got, ref)
    assert out.rows == len(ref)
    assert out.symbols == sorted(set(ref["symbol"].dropna()))
    index_col = ref.columns[0]
    if len(ref):
        assert out.first_ts == ref[index_col].min().value
        assert out.last_ts == ref[index_col].max().value
    else:
        assert out.first_ts is None and out.last_ts is None


UPGRADED = [p for p in FILES if layout_changes_on_upgrade(db.DBNStore.from_file(p))]


@pytest.mark.skipif(not UPGRADED, reason=SKIP_REASON)
@pytest.mark.parametrize("src", UPGRADED, ids=[p.name for p in UPGRADED])
def test_upgraded_files_keep_original_values(src: Path, tmp_path: Path) -> None:
    """For v1/v2 files whose layout changed, every column the vendor's non-upgraded
    to_df also has holds the same values (dtype may widen, e.g. quantity int32->int64;
    a widened integer's "undefined" sentinel (dtype max) maps to the new dtype's max)."""
    outputs = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet")
    got = read_parquet_df(outputs[0].path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        orig = db.DBNStore.from_file(src).to_df().reset_index()
    common = [c for c in orig.columns if c in got.columns]
    assert len(common) >= 10
    for col in common:
        assert (got[col].isna() == orig[col].isna()).all(), col
        mask = got[col].notna()
        if got[col].dtype.kind in "iu" and orig[col].dtype != got[col].dtype:
            old_max = np.iinfo(orig[col].dtype).max
            new_max = np.iinfo(got[col].dtype).max
            undef = orig[col] == old_max
            assert (got.loc[undef, col] == new_max).all(), col
            mask &= ~undef
        assert (got.loc[mask, col].astype(str) == orig.loc[mask, col].astype(str)).all(), col
