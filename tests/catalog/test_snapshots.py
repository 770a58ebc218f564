"""Snapshots (the runs in the datasets' Delta logs): a revised re-ingest keeps the old rows
readable with ``as_of``, from the same bytes, while the table's current version holds only
current data; pruning old runs."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from deltalake import DeltaTable

from multigate import Catalog
from multigate.catalog import CatalogError
from multigate.exit_codes import ExitCode
from multigate.storage.delta_prune import prune_runs
from multigate.storage.delta_tables import versioned_name
from multigate.storage.provenance import sha256_of
from tests.catalog.helpers import (
    DATASETS,
    assert_same_rows,
    reference,
    stored_files,
    write_alpaca,
    write_databento,
    write_vix,
)
from tests.conftest import snapshot as tree_state


def keep_copies(data_dir: Path, folder: str, into: Path) -> list[Path]:
    """Copies of a dataset's current files (the reference for a later as_of read)."""
    copies = []
    for index, path in enumerate(stored_files(data_dir, folder)):
        target = into / folder / f"{index:03d}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copies.append(target)
    return copies


def test_revised_vix_csv_keeps_the_old_rows_readable(ingested, run_cli, tmp_path):
    data_dir = ingested.parent / "data"
    old_files = keep_copies(data_dir, "vix/vix_daily", tmp_path / "old")
    old_sha = {path.name: sha256_of(path) for path in stored_files(data_dir, "vix/vix_daily")}
    (first,) = Catalog.open(data_dir).snapshots()

    write_vix(ingested.parent, seed=99)  # CBOE revised the history
    assert run_cli("--config", ingested).code == ExitCode.OK

    catalog = Catalog.open(data_dir)
    first_again, second = catalog.snapshots()
    assert first_again == first
    assert second.datasets == ("vix/vix_daily",)  # nothing else changed
    assert second.config_hash and second.created_at >= first.created_at
    assert catalog.dataset("vix/vix_daily").snapshot == second.id

    new_files = stored_files(data_dir, "vix/vix_daily")
    assert_same_rows(catalog.read("vix/vix_daily"), reference(new_files, "date"))
    old = reference(old_files, "date")
    assert_same_rows(catalog.read("vix/vix_daily", as_of=first.id), old)
    assert_same_rows(catalog.read("vix/vix_daily", as_of=first.created_at), old)
    assert_same_rows(
        catalog.read("vix/vix_daily", as_of=second.created_at), reference(new_files, "date")
    )
    # a run's time is its last commit; this table's own first commit may come earlier
    committed = catalog.snapshots("vix/vix_daily")[0].created_at
    assert committed <= first.created_at
    with pytest.raises(CatalogError, match="no version of vix/vix_daily at or before"):
        catalog.read("vix/vix_daily", as_of=committed - timedelta(milliseconds=1))

    # the old bytes stay in the table under their content names; its current version
    # (what any Delta reader sees) holds the new rows only
    folder = data_dir / "ingested/vix/vix_daily"
    for name, sha in old_sha.items():
        assert sha256_of(folder / versioned_name(Path(name), sha)) == sha
    current = DeltaTable(str(folder)).to_pyarrow_dataset()
    assert current.count_rows() == sum(len(reference([f], "date")) for f in new_files)


def test_a_pruned_output_stays_readable_by_its_snapshot(ingested, run_cli, tmp_path):
    data_dir = ingested.parent / "data"
    old = reference(keep_copies(data_dir, "vix/vix_daily", tmp_path / "old"), "date")
    (first,) = Catalog.open(data_dir).snapshots()
    (ingested.parent / "inputs/vix/VIX3M_History.csv").unlink()
    assert run_cli("--config", ingested).code == ExitCode.OK
    assert [p.name for p in stored_files(data_dir, "vix/vix_daily")] == ["VIX.parquet"]

    catalog = Catalog.open(data_dir)
    assert catalog.dataset("vix/vix_daily").symbols == ("VIX",)
    assert set(catalog.read("vix/vix_daily")["symbol"].to_pylist()) == {"VIX"}
    assert_same_rows(catalog.read("vix/vix_daily", as_of=first.id), old)
    only_3m = catalog.read("vix/vix_daily", symbols="VIX3M", as_of=first.id)
    assert_same_rows(only_3m, old[old.symbol == "VIX3M"])


def test_revised_databento_and_alpaca_inputs_keep_the_old_rows(ingested, run_cli, tmp_path):
    data_dir = ingested.parent / "data"
    names = ["alpaca/eq_1m", "databento/glbx/trades", "databento/glbx/mbp-1", "databento/es_trades"]
    old = {
        name: reference(
            keep_copies(data_dir, DATASETS[name][0], tmp_path / "old"), DATASETS[name][1]
        )
        for name in names
    }
    (first,) = Catalog.open(data_dir).snapshots()
    write_alpaca(ingested.parent, seed=7)
    write_databento(ingested.parent, seed=7)
    assert run_cli("--config", ingested).code == ExitCode.OK

    catalog = Catalog.open(data_dir)
    latest = catalog.snapshots()[-1]
    assert set(latest.datasets) == set(names)
    for name in names:
        folder, time_column = DATASETS[name]
        current = reference(stored_files(data_dir, folder), time_column)
        assert not current.equals(old[name]), name
        assert_same_rows(catalog.read(name), current)
        assert_same_rows(catalog.read(name, as_of=first.id), old[name])
        scanned = catalog.scan(name, as_of=first.id, batch_rows=500).read_all()
        assert_same_rows(scanned, old[name])


def test_an_up_to_date_run_records_nothing(ingested, run_cli):
    data_dir = ingested.parent / "data"
    before = tree_state(data_dir / "ingested")
    assert run_cli("--config", ingested).code == ExitCode.OK
    assert tree_state(data_dir / "ingested") == before  # no commit, no record rewritten
    assert len(Catalog.open(data_dir).snapshots()) == 1


def test_prune_removes_old_snapshots_and_only_their_files(ingested, run_cli):
    data_dir = ingested.parent / "data"
    folder = data_dir / "ingested/vix/vix_daily"
    for seed in (50, 60):
        write_vix(ingested.parent, seed=seed)
        assert run_cli("--config", ingested).code == ExitCode.OK
    catalog = Catalog.open(data_dir)
    first, second, third = catalog.snapshots()
    files = {
        version: {Path(uri).name for uri in DeltaTable(str(folder), version=version).file_uris()}
        for version in (0, 1, 2)
    }
    second_only = files[1] - files[0] - files[2]
    assert len(second_only) == 2 and all((folder / name).is_file() for name in second_only)

    with pytest.raises(ValueError, match="say what to prune"):
        prune_runs(data_dir)
    removed, deleted = prune_runs(data_dir, keep=1)
    # the first run is still the latest of the alpaca and databento tables: it stays
    assert removed == [second.id] and deleted == len(second_only)
    assert not any((folder / name).exists() for name in second_only)

    catalog = Catalog.open(data_dir)
    assert [s.id for s in catalog.snapshots()] == [first.id, third.id]
    assert catalog.read("vix/vix_daily", as_of=first.id).num_rows > 0  # its files are kept
    with pytest.raises(CatalogError, match="unknown run"):
        catalog.read("vix/vix_daily", as_of=second.id)
    assert catalog.read("alpaca/eq_1m").num_rows > 0
