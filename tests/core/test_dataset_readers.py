"""Ingested datasets (Delta tables) read as one dataset in pyarrow, DuckDB and polars."""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow.parquet as pq
from deltalake import DeltaTable

from multigate.exit_codes import ExitCode
from multigate.sample.vix import write_vix_samples
from tests.conftest import engine_outputs

CONFIG = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: cboe
        mode: offline
        path: samples/*_History.csv
"""


def test_job_folder_is_one_dataset_for_every_reader(tmp_path, write_config, run_cli):
    """A job folder is a Delta table: pyarrow (through deltalake), DuckDB and polars read
    it as one dataset holding exactly the engine's current outputs."""
    write_vix_samples(tmp_path / "samples")
    assert run_cli("--config", write_config(CONFIG)).code == ExitCode.OK
    folder = tmp_path / "data/ingested/vix/cboe"
    outputs = engine_outputs(folder)
    rows = sum(pq.read_metadata(path).num_rows for path in outputs)

    dataset = DeltaTable(str(folder)).to_pyarrow_dataset()
    arrow = dataset.to_table()
    assert sorted(set(arrow["symbol"].to_pylist())) == ["VIX", "VIX3M"]
    assert arrow.num_rows == rows

    duck = duckdb.sql("select symbol, count(*) from dataset group by 1 order by 1").fetchall()
    assert [symbol for symbol, _ in duck] == ["VIX", "VIX3M"]
    assert sum(count for _, count in duck) == rows

    lazy = pl.scan_pyarrow_dataset(dataset).select(pl.len()).collect()
    assert lazy.item() == rows
