"""``--force`` rewrites outputs with the bytes they already hold: no table gets a commit,
and no copy of those bytes is made (their content-named files already hold them)."""

from __future__ import annotations

import pyarrow.parquet as pq

from multigate import Catalog
from multigate.exit_codes import ExitCode
from multigate.storage.provenance import sha256_of
from tests.catalog.helpers import DATASETS, stored_files


def test_force_keeps_no_copy_of_bytes_that_did_not_change(ingested, run_cli):
    data_dir = ingested.parent / "data"
    before = {
        path: (sha256_of(path), path.stat().st_ino)
        for name in DATASETS
        for path in stored_files(data_dir, DATASETS[name][0])
    }
    (first,) = Catalog.open(data_dir).snapshots()
    assert run_cli("--config", ingested, "--force").code == ExitCode.OK

    rewritten_same = [
        path
        for path, (sha, inode) in before.items()
        if path.stat().st_ino != inode and sha256_of(path) == sha
    ]
    assert len(rewritten_same) >= len(DATASETS)  # --force did write them again
    linked = sorted((data_dir / "ingested").rglob("*.v-*.parquet"))
    assert len(linked) == len(before)  # one content-named file per output, none added
    assert len(Catalog.open(data_dir).snapshots()) == 1  # nothing changed: no new snapshot
    catalog = Catalog.open(data_dir)
    for name, (folder, _) in DATASETS.items():
        files = stored_files(data_dir, folder)
        assert catalog.read(name, as_of=first.id).num_rows == sum(
            pq.read_metadata(path).num_rows for path in files
        )
