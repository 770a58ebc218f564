"""read_dbn_metadata agrees with the vendor's metadata for every real file."""

from __future__ import annotations

from pathlib import Path

import databento as db
import pytest
from dbn_helpers import SKIP_REASON, TESTDATA, real_dbn_files

from multigate.sources.databento.dbn_info import read_dbn_metadata
from multigate.sources.databento.dbn_synthetic import write_synthetic_file

FILES = real_dbn_files()


@pytest.mark.skipif(not FILES, reason=SKIP_REASON)
@pytest.mark.parametrize("src", FILES, ids=[str(p.relative_to(TESTDATA)) for p in FILES])
def test_metadata_matches_vendor(src: Path) -> None:
    info = read_dbn_metadata(src)
    meta = db.DBNStore.from_file(src).metadata
    assert info.dataset == meta.dataset
    assert info.schema == (None if meta.schema is None else str(meta.schema.value))
    assert info.version == meta.version
    assert info.start == meta.start
    assert info.symbols == list(meta.symbols)
    assert info.compressed == src.name.endswith(".zst")


def test_record_count_for_uncompressed_v3(tmp_path: Path) -> None:
    src = tmp_path / "x.trades.dbn"
    write_synthetic_file(src, "trades", records=1_234, n_instruments=2)
    info = read_dbn_metadata(src)
    assert (info.record_count, info.schema, info.version) == (1_234, "trades", 3)
    zst = tmp_path / "x.trades.dbn.zst"
    write_synthetic_file(zst, "trades", records=10, n_instruments=2)
    assert read_dbn_metadata(zst).record_count is None
