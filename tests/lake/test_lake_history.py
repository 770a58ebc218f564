"""A table's history as runs change a job of many outputs: each run's commit holds only
what it changed, every past run reads exactly as it was, and pruning keeps exactly the
files the remaining versions need."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from multigate import Catalog
from multigate.catalog import CatalogError
from multigate.storage.delta_prune import prune_runs
from multigate.storage.delta_tables import RunInfo, commit_job, new_run_id
from multigate.storage.parquet import write_parquet
from multigate.storage.provenance import FileDigest, Provenance
from multigate.storage.publish import prune_stale_outputs, publish_file

SOURCE, JOB = "test", "daily"
NAME = f"{SOURCE}/{JOB}"
OUTPUTS = 150
RUNS = 20


def one_symbol_table(symbol: str, version: int) -> pa.Table:
    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    stamps = [start + timedelta(minutes=minute) for minute in range(3)]
    return pa.table(
        {
            "symbol": pa.array([symbol] * 3),
            "timestamp": pa.array(stamps, pa.timestamp("ns", tz="UTC")),
            "price": pa.array([100.0 + version + minute for minute in range(3)]),
        }
    )


def output_path(data_dir: Path, symbol: str) -> Path:
    return data_dir / "ingested" / SOURCE / JOB / f"{symbol}.parquet"


def publish(data_dir: Path, symbol: str, version: int = 0) -> Path:
    """Write (or replace) one output the way jobs do: atomically, with its sidecar."""
    path = output_path(data_dir, symbol)
    table = one_symbol_table(symbol, version)

    def describe(digest: FileDigest) -> Provenance:
        return Provenance(
            kind="ingested",
            source=SOURCE,
            job=JOB,
            mode="offline",
            query={"symbol": symbol},
            file=digest,
            fingerprint=f"{symbol}-{digest.sha256}",
            rows=table.num_rows,
            symbols=[symbol],
        )

    publish_file(path, lambda tmp: write_parquet(table, tmp), describe, data_dir=data_dir)
    return path


def run(data_dir: Path, outputs: list[Path]) -> str:
    run_id = new_run_id(datetime.now(UTC))
    commit_job(data_dir, SOURCE, JOB, outputs, RunInfo(run_id, {"name": JOB}))
    return run_id


def rows_of(files: list[Path]) -> pd.DataFrame:
    frame = pa.concat_tables([pq.read_table(path) for path in files]).to_pandas()
    return frame.sort_values(["timestamp", "symbol"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def grown_once(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """150 outputs, then 20 runs that each add one output; every 7th also replaces an
    output with new bytes, every 10th (from the 5th) drops one. Copies of every run's
    files are kept aside (hard links: outputs are replaced, never rewritten in place) as
    the reference of what ``as_of`` must read."""
    tmp_path = tmp_path_factory.mktemp("grown")
    data_dir = tmp_path / "data"
    outputs = [publish(data_dir, f"S{index:04d}") for index in range(OUTPUTS)]
    ids = [run(data_dir, outputs)]
    log_sizes = []
    copies: dict[str, list[Path]] = {}

    def keep_copies(run_id: str) -> None:
        folder = tmp_path / "copies" / run_id
        folder.mkdir(parents=True)
        copies[run_id] = []
        for path in outputs:
            os.link(path, folder / path.name)
            copies[run_id].append(folder / path.name)

    keep_copies(ids[0])
    log = data_dir / "ingested" / SOURCE / JOB / "_delta_log"
    for number in range(1, RUNS + 1):
        outputs.append(publish(data_dir, f"N{number:03d}"))
        if number % 7 == 0:
            publish(data_dir, f"S{number:04d}", version=number)
        if number % 10 == 5:
            dropped = output_path(data_dir, f"S{number + 100:04d}")
            outputs.remove(dropped)
            folder = data_dir / "ingested" / SOURCE / JOB
            assert prune_stale_outputs(folder, outputs, source=SOURCE, job=JOB) == [dropped]
        before = {path.name for path in log.iterdir()}
        ids.append(run(data_dir, outputs))
        (new_commit,) = [path for path in log.iterdir() if path.name not in before]
        log_sizes.append(new_commit.stat().st_size)
        keep_copies(ids[-1])
    first_commit = (log / f"{0:020d}.json").stat().st_size
    return {
        "data_dir": data_dir,
        "ids": ids,
        "copies": copies,
        "log_sizes": log_sizes,
        "first": first_commit,
    }


@pytest.fixture
def grown(grown_once: dict, tmp_path: Path) -> dict:
    """The grown job in a data folder of the test's own (tests may prune it)."""
    data_dir = tmp_path / "data"
    shutil.copytree(grown_once["data_dir"], data_dir)
    return {**grown_once, "data_dir": data_dir}


def assert_runs_exact(grown: dict, ids: list[str]) -> None:
    catalog = Catalog.open(grown["data_dir"])
    for run_id in ids:
        got = catalog.read(NAME, as_of=run_id).to_pandas()
        pd.testing.assert_frame_equal(got, rows_of(grown["copies"][run_id]), check_exact=True)


def test_each_commit_holds_what_its_run_changed_and_every_run_reads_exactly(grown):
    assert grown["first"] > OUTPUTS * 150  # the first commit adds every output
    for size in grown["log_sizes"]:
        # one to three changes with their provenance, never the 150-output list again
        assert 0 < size < 6_000, size
    assert_runs_exact(grown, grown["ids"])
    catalog = Catalog.open(grown["data_dir"])
    assert [snap.id for snap in catalog.snapshots(NAME)] == grown["ids"]
    assert catalog.read(NAME).num_rows == (OUTPUTS + RUNS - 2) * 3
    # as_of a time between two runs reads the earlier one
    third = catalog.snapshots(NAME)[2]
    moment = third.created_at + (catalog.snapshots(NAME)[3].created_at - third.created_at) / 2
    assert catalog.read(NAME, as_of=moment).num_rows == len(grown["copies"][third.id]) * 3


def test_prune_keeps_exactly_what_the_kept_runs_need(grown):
    data_dir, ids = grown["data_dir"], grown["ids"]
    folder = data_dir / "ingested" / SOURCE / JOB
    files_before = {path.name for path in folder.glob("*.v-*.parquet")}
    removed, deleted = prune_runs(data_dir, keep=10)
    assert removed == ids[:-10]
    kept = ids[-10:]
    assert_runs_exact(grown, kept)
    catalog = Catalog.open(data_dir)
    with pytest.raises(CatalogError, match="unknown run"):
        catalog.read(NAME, as_of=ids[0])
    assert [snap.id for snap in catalog.snapshots()] == kept
    # left: the files some kept version reads; gone: the versions only removed runs read
    from deltalake import DeltaTable

    needed = set()
    table = DeltaTable(str(folder))
    for version in range(table.version() - 9, table.version() + 1):
        needed |= {Path(uri).name for uri in DeltaTable(str(folder), version=version).file_uris()}
    files_after = {path.name for path in folder.glob("*.v-*.parquet")}
    assert files_after == needed
    assert deleted == len(files_before - needed) > 0

    created = catalog.snapshots()[5].created_at
    removed, _ = prune_runs(data_dir, before=created)
    assert removed == kept[:5]
    assert_runs_exact(grown, kept[5:])
