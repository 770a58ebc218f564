"""read_dbn_metadata agrees with the vendor's metadata for every real file."""

from __future__ import annotations

from pathlib import Path

import databento as db
import pytest
from dbn_helpers import TESTDATA, real_dbn_files
from dbn_versions import all_version_schemas, write_version_file

from multigate.sources.databento.dbn_info import read_dbn_metadata
from multigate.sources.databento.dbn_synthetic import write_synthetic_file
from tests.conftest import vendor_params

FILES = real_dbn_files()


def _check_metadata(src: Path) -> None:
    info = read_dbn_metadata(src)
    meta = db.DBNStore.from_file(src).metadata
    assert info.dataset == meta.dataset
    assert info.schema == (None if meta.schema is None else str(meta.schema.value))
    assert info.version == meta.version
    assert info.start == meta.start
    assert info.symbols == list(meta.symbols)
    assert info.compressed == src.name.endswith(".zst")


@pytest.mark.parametrize(("version", "schema"), all_version_schemas())
def test_generated_metadata_matches_vendor(tmp_path: Path, version: int, schema: str) -> None:
    _check_metadata(write_version_file(tmp_path, version, schema))


@pytest.mark.parametrize("src", vendor_params(FILES, lambda p: str(p.relative_to(TESTDATA))))
def test_real_metadata_matches_vendor(testdata: Path, src: Path) -> None:
    _check_metadata(src)


def test_record_count_for_uncompressed_v3(tmp_path: Path) -> None:
    src = tmp_path / "x.trades.dbn"
    write_synthetic_file(src, "trades", records=1_234, n_instruments=2)
    info = read_dbn_metadata(src)
    assert (info.record_count, info.schema, info.version) == (1_234, "trades", 3)
    zst = tmp_path / "x.trades.dbn.zst"
    write_synthetic_file(zst, "trades", records=10, n_instruments=2)
    assert read_dbn_metadata(zst).record_count is None
