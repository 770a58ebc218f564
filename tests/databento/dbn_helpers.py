"""Shared helpers for the Databento converter tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import databento as db
import databento_dbn as dbn
import pandas as pd
import pyarrow.parquet as pq
from databento.common.constants import (
    SCHEMA_STRUCT_MAP,
    SCHEMA_STRUCT_MAP_V1,
    SCHEMA_STRUCT_MAP_V2,
)

from multigate.sources.databento.dbn_legacy import LEGACY_DEFINITION_FIELDS
from tests.conftest import vendor_testdata_root

# Real vendor samples (the `vendor_samples` test group): ../shared/testdata/databento,
# or $MULTIGATE_TESTDATA/databento (see tests/conftest.py).
TESTDATA = vendor_testdata_root() / "databento"


def real_dbn_files() -> list[Path]:
    """Every complete DBN file in the test data (metadata-less fragments excluded)."""
    if not TESTDATA.is_dir():
        return []
    return sorted(p for p in TESTDATA.rglob("*.dbn*") if ".frag" not in p.name)


def fragment_files() -> list[Path]:
    if not TESTDATA.is_dir():
        return []
    return sorted((TESTDATA / "dbn").glob("*.dbn.frag*"))


def _vendor_df(store: db.DBNStore, price_type: str, schema: str | None = None) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return store.to_df(price_type=price_type, schema=schema).reset_index()


def layout_changes_on_upgrade(store: db.DBNStore) -> bool:
    """True if the vendor's to_df uses a pre-v3 record layout for this file."""
    version = store.metadata.version
    if version >= 3 or store.schema is None:
        return False
    old = (SCHEMA_STRUCT_MAP_V1 if version == 1 else SCHEMA_STRUCT_MAP_V2)[store.schema]
    return old._dtypes != SCHEMA_STRUCT_MAP[store.schema]._dtypes


def vendor_reference(path: Path, price_type: str = "float", schema: str | None = None):
    """``DBNStore.from_file(path).to_df().reset_index()``, of the v3-upgraded file.

    For files whose schema layout changed between DBN versions (definition, statistics),
    the v3 file is built by the vendor itself: the metadata upgraded by
    ``Metadata.decode(UPGRADE_TO_V3)`` and records from DBNStore iteration (which
    decodes with ``UPGRADE_TO_V3``).
    """
    store = db.DBNStore.from_file(path)
    if not layout_changes_on_upgrade(store):
        return _vendor_df(store, price_type, schema)
    meta3 = dbn.Metadata.decode(
        store.metadata.encode(), upgrade_policy=dbn.VersionUpgradePolicy.UPGRADE_TO_V3
    )
    assert meta3.version == 3
    body = b"".join(bytes(rec) for rec in store)
    return _vendor_df(db.DBNStore.from_bytes(bytes(meta3.encode()) + body), price_type, schema)


def normalize_reference(ref: pd.DataFrame, got: pd.DataFrame) -> pd.DataFrame:
    """Apply the two documented, justified to_df quirks, asserting their preconditions.

    1. ``symbol``: to_df yields dtype ``object`` (all ``None``) when no record maps; the
       Parquet string column (all null) reads back as ``str`` with NaN. Same values.
    2. 0-row frames: ``pd.to_datetime`` on an empty uint64 column yields
       ``datetime64[s, UTC]``; our columns are always ``timestamp[ns, UTC]``.
    """
    ref = ref.copy()
    if "symbol" in ref and ref["symbol"].dtype == object:
        assert ref["symbol"].isna().all(), "object symbol column with real values"
        ref["symbol"] = ref["symbol"].astype(got["symbol"].dtype)
    if len(ref) == 0:
        for col in ref.columns:
            if str(ref[col].dtype) == "datetime64[s, UTC]":
                ref[col] = ref[col].astype("datetime64[ns, UTC]")
    return ref


def read_parquet_df(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def by_symbol(ref: pd.DataFrame) -> pd.DataFrame:
    """The vendor's rows grouped by symbol (unmapped last), each symbol's rows in the
    vendor's order: the layout our outputs keep (a stable sort, done here by pandas)."""
    if "symbol" not in ref:
        return ref
    ordered = ref.sort_values("symbol", kind="stable", na_position="last")
    return ordered.reset_index(drop=True)


def assert_matches_vendor(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    """``got`` holds exactly the vendor's rows, grouped by symbol, each symbol's rows in
    the vendor's order."""
    ref = by_symbol(normalize_reference(ref, got))
    assert list(got.columns) == list(ref.columns)
    assert dict(got.dtypes.astype(str)) == dict(ref.dtypes.astype(str))
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


def original_to_df(path: Path, price_type: str = "float") -> pd.DataFrame:
    """The vendor's to_df of the file in its own DBN version (not upgraded)."""
    return _vendor_df(db.DBNStore.from_file(path), price_type)


def assert_matches_vendor_any_version(got: pd.DataFrame, path: Path, price_type: str) -> None:
    """``got`` equals the vendor's to_df of the v3-upgraded file in its to_df columns; a
    definition output also has the fields v3 dropped: for a v1/v2 file with the values of
    the file's own to_df, for a v3 file all null."""
    store = db.DBNStore.from_file(path)
    legacy = [c for c in LEGACY_DEFINITION_FIELDS if c in got.columns]
    if store.schema == dbn.Schema.DEFINITION:
        assert legacy == list(LEGACY_DEFINITION_FIELDS)
        if store.metadata.version < 3:
            original = by_symbol(original_to_df(path, price_type))
            for col in legacy:
                pd.testing.assert_series_equal(got[col], original[col], check_exact=True)
        else:
            assert got[legacy].isna().all().all()
    else:
        assert legacy == []
    assert_matches_vendor(got.drop(columns=legacy), vendor_reference(path, price_type))


def row_group_sizes(path: Path, cap: int) -> list[int]:
    """The file's row-group sizes, checked against the layout's rule: none above ``cap``;
    one below ``cap`` only where a symbol ends (or at the end of the file)."""
    parquet = pq.ParquetFile(path)
    meta = parquet.metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert max(sizes, default=0) <= cap
    for i, size in enumerate(sizes[:-1]):
        if size < cap:
            last = parquet.read_row_group(i, columns=["symbol"])["symbol"][-1].as_py()
            first = parquet.read_row_group(i + 1, columns=["symbol"])["symbol"][0].as_py()
            assert last != first, (i, sizes)
    return sizes
