"""Every ingested dataset is a Delta Lake table that other engines open without Multigate:
one commit per run that changed it, with the run's provenance, and every past version
readable after its outputs were replaced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import deltalake
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from multigate import Catalog
from multigate.exit_codes import ExitCode
from multigate.storage.delta_tables import is_versioned_name
from multigate.storage.table_record import ENTRIES_NAME, TABLE_SIDECAR, read_table_record
from tests.catalog.helpers import CONFIG, write_all_inputs, write_vix

deltalake.enable_nanosecond_timestamps()


def _tables(data: Path) -> list[Path]:
    return sorted(log.parent for log in (data / "ingested").rglob("_delta_log"))


def _engine_outputs(root: Path) -> list[Path]:
    """The engine's current outputs under a table: the Parquet files with a sidecar."""
    return sorted(
        p for p in root.rglob("*.parquet") if p.with_name(p.name + ".source.json").is_file()
    )


def _sorted(table: pa.Table) -> pa.Table:
    keys = [(name, "ascending") for name in table.column_names if name != "symbol"]
    keys = [("symbol", "ascending"), *keys] if "symbol" in table.column_names else keys
    return table.sort_by(keys)


def _assert_same(got: pa.Table, expected: pa.Table) -> None:
    """Equal rows (NaN equal to NaN), in the types ``got`` has."""
    pd.testing.assert_frame_equal(
        got.to_pandas(), expected.cast(got.schema).to_pandas(), check_exact=True
    )


def _commits(root: Path) -> list[dict]:
    """The ``commitInfo`` of every commit file, oldest first, read as plain JSON."""
    infos = []
    for path in sorted((root / "_delta_log").glob("*.json")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "commitInfo" in record:
                infos.append(record["commitInfo"])
    return infos


@pytest.fixture
def lake(tmp_path, write_config, run_cli) -> tuple[Path, Path]:
    write_all_inputs(tmp_path)
    config = write_config(CONFIG)
    assert run_cli("--config", config).code == ExitCode.OK
    return tmp_path / "data", config


def test_each_dataset_is_a_table_other_engines_read_as_the_engine_wrote_it(lake):
    data, _ = lake
    tables = _tables(data)
    # vix_daily, eq_1m, es_trades, and glbx's two record types (schema=trades, schema=mbp-1)
    assert len(tables) == 5
    for root in tables:
        expected = _sorted(pa.concat_tables([pq.read_table(p) for p in _engine_outputs(root)]))
        dataset = DeltaTable(str(root)).to_pyarrow_dataset()
        # the same values; unsigned vendor types read as the wider signed type Delta has
        _assert_same(_sorted(dataset.to_table()), expected)
        assert duckdb.sql("select count(*) from dataset").fetchall() == [(expected.num_rows,)]
        assert pl.scan_pyarrow_dataset(dataset).select(pl.len()).collect().item() == (
            expected.num_rows
        )


def test_a_commit_records_the_run_and_each_added_files_provenance(lake):
    data, _ = lake
    root = data / "ingested/vix/vix_daily"
    (info,) = _commits(root)
    meta = info["multigate"]
    assert meta["source"] == "vix" and meta["job"] == "vix_daily"
    assert len(meta["config_hash"]) == 64 and meta["run"]
    assert sorted(meta["files"]) == sorted(
        p.name for p in root.iterdir() if is_versioned_name(p.name)
    )
    for name, provenance in meta["files"].items():
        sidecar = json.loads((root / (provenance["output"] + ".source.json")).read_text())
        assert provenance["file"]["sha256"] == sidecar["file"]["sha256"]
        assert name.endswith(f".v-{sidecar['file']['sha256'][:16]}.parquet")
        assert provenance["inputs"] == sidecar["inputs"]  # raw inputs with their sha256
        assert provenance["tools"] == sidecar["tools"]
    summary = json.loads((root / TABLE_SIDECAR).read_text())
    assert summary["version"] == 0 and summary["run"] == meta["run"]
    record = read_table_record(root)
    assert record is not None and summary["files"] == record.entries.num_rows
    entries = record.entries.to_pylist()
    assert sorted(e["path"].rsplit("/", 1)[-1] for e in entries) == sorted(meta["files"])
    for entry in entries:  # the catalog's entry of each file, from the engine
        output = data / entry["output"]
        sidecar = json.loads(output.with_name(output.name + ".source.json").read_text())
        assert entry["sha256"] == sidecar["file"]["sha256"]
        assert entry["rows"] == sidecar["rows"] == pq.read_metadata(data / entry["path"]).num_rows
        assert entry["symbols"] == sidecar["symbols"]
        assert entry["ino"] == output.stat().st_ino


def test_a_run_that_changes_nothing_commits_nothing(lake, run_cli):
    data, config = lake
    before = {root: DeltaTable(str(root)).version() for root in _tables(data)}
    assert run_cli("--config", config).code == ExitCode.OK
    assert run_cli("--config", config, "--force").code == ExitCode.OK  # same bytes again
    assert {root: DeltaTable(str(root)).version() for root in _tables(data)} == before


def test_a_changed_input_is_one_new_version_and_the_old_one_still_reads(lake, run_cli):
    data, config = lake
    root = data / "ingested/vix/vix_daily"
    first = _sorted(DeltaTable(str(root)).to_pyarrow_table())
    untouched = data / "ingested/alpaca/eq_1m"
    write_vix(data.parent, seed=7, days=320)  # new history for both symbols
    assert run_cli("--config", config).code == ExitCode.OK
    table = DeltaTable(str(root))
    assert table.version() == 1
    assert DeltaTable(str(untouched)).version() == 0  # other datasets get no commit
    current = _sorted(table.to_pyarrow_table())
    expected = _sorted(pa.concat_tables([pq.read_table(p) for p in _engine_outputs(root)]))
    _assert_same(current, expected)
    assert current.num_rows != first.num_rows
    # time travel: version 0 is the first run's rows, though VIX.parquet was replaced
    _assert_same(_sorted(DeltaTable(str(root), version=0).to_pyarrow_table()), first)
    polars_old = pl.scan_pyarrow_dataset(DeltaTable(str(root), version=0).to_pyarrow_dataset())
    assert polars_old.select(pl.len()).collect().item() == first.num_rows
    infos = _commits(root)
    assert len(infos) == 2 and infos[0]["multigate"]["run"] < infos[1]["multigate"]["run"]


def test_a_dropped_symbol_is_removed_from_the_current_version_only(lake, run_cli):
    data, config = lake
    root = data / "ingested/vix/vix_daily"
    (data.parent / "inputs/vix/VIX3M_History.csv").unlink()
    assert run_cli("--config", config).code == ExitCode.OK
    current = DeltaTable(str(root)).to_pyarrow_table()
    assert pc.unique(current["symbol"]).to_pylist() == ["VIX"]
    old = DeltaTable(str(root), version=0).to_pyarrow_table()
    assert sorted(pc.unique(old["symbol"]).to_pylist()) == ["VIX", "VIX3M"]


def test_file_statistics_bound_every_value_so_readers_prune_safely(lake):
    data, _ = lake
    for root in _tables(data):
        actions = pa.table(DeltaTable(str(root)).get_add_actions(flatten=True)).to_pylist()
        for action in actions:
            rows = pq.read_table(root / action["path"])
            assert action["num_records"] == rows.num_rows
            for name in rows.column_names:
                low, high = action.get(f"min.{name}"), action.get(f"max.{name}")
                if low is None or rows.num_rows == 0:
                    continue
                column = rows[name]
                if pa.types.is_dictionary(column.type):
                    column = column.cast(column.type.value_type)
                if pa.types.is_timestamp(column.type):
                    column = column.cast(pa.timestamp("ns", "UTC"))
                    low = pa.scalar(low).cast(pa.timestamp("ns", "UTC"))
                    high = pa.scalar(high).cast(pa.timestamp("ns", "UTC"))
                bounds = pc.min_max(column)
                assert pc.less_equal(low, bounds["min"]).as_py(), (root, name)
                assert pc.greater_equal(high, bounds["max"]).as_py(), (root, name)


def test_a_time_filter_through_the_log_keeps_boundary_nanoseconds(lake):
    data, _ = lake
    root = data / "ingested/databento/es_trades/schema=trades"
    rows = DeltaTable(str(root)).to_pyarrow_table()
    last = pc.max(rows["ts_event"])
    filtered = (
        DeltaTable(str(root)).to_pyarrow_dataset().to_table(filter=pc.field("ts_event") >= last)
    )
    expected = rows.filter(pc.equal(rows["ts_event"], last)).num_rows
    assert filtered.num_rows == expected > 0


def test_unsigned_vendor_values_read_whole_through_the_table(tmp_path):
    """DBN ``flags`` of 128 and more, ``uint32`` sizes and ``uint64`` order ids past 2**63:
    a reader casting to the table schema gets every value, never an overflow."""
    from deltalake.transaction import AddAction, create_table_with_add_actions

    from multigate.storage.delta_files import file_stats, table_schema

    rows = pa.table(
        {
            "flags": pa.array([200, 1], pa.uint8()),
            "publisher_id": pa.array([65_535, 2], pa.uint16()),
            "size": pa.array([2**32 - 1, 1], pa.uint32()),
            "order_id": pa.array([2**63 + 5, 3], pa.uint64()),
        }
    )
    pq.write_table(rows, tmp_path / "a.parquet")
    action = AddAction(
        "a.parquet",
        (tmp_path / "a.parquet").stat().st_size,
        {},
        0,
        True,
        file_stats(pq.read_metadata(tmp_path / "a.parquet")),
    )
    schema = deltalake.Schema.from_arrow(table_schema(rows.schema))
    create_table_with_add_actions(str(tmp_path), schema, [action])
    read = DeltaTable(str(tmp_path)).to_pyarrow_table()
    assert [int(v) for v in read["order_id"].to_pylist()] == rows["order_id"].to_pylist()
    for name in ("flags", "publisher_id", "size"):
        assert read[name].to_pylist() == rows[name].to_pylist()


def _as_before_tables(data: Path) -> None:
    """The folder as a release before Delta tables left it: outputs and sidecars only."""
    for log in list((data / "ingested").rglob("_delta_log")):
        shutil.rmtree(log)
    for path in (data / "ingested").rglob("*"):
        if path.name in (TABLE_SIDECAR, ENTRIES_NAME) or is_versioned_name(path.name):
            path.unlink()


def test_a_folder_from_before_tables_is_converted_once_by_its_first_reader(lake):
    data, _ = lake
    expected = {root: _sorted(DeltaTable(str(root)).to_pyarrow_table()) for root in _tables(data)}
    _as_before_tables(data)
    outputs = {p: p.read_bytes() for p in (data / "ingested").rglob("*.parquet")}
    catalog = Catalog.open(data)
    assert sorted(_tables(data)) == sorted(expected)
    for root, rows in expected.items():
        table = DeltaTable(str(root))
        assert table.version() == 0  # its history starts here
        _assert_same(_sorted(table.to_pyarrow_table()), rows)
    assert len(catalog.snapshots()) == 1
    # nothing the old release wrote was moved or rewritten
    assert all(path.read_bytes() == data for path, data in outputs.items())


def test_a_run_converts_the_jobs_it_does_not_run(lake, run_cli):
    data, config = lake
    _as_before_tables(data)
    assert run_cli("--config", config, "--job", "vix_daily").code == ExitCode.OK
    assert len(_tables(data)) == 5  # every job's outputs got their table
