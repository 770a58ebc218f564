"""Ingested folders read as one dataset in pyarrow.dataset, DuckDB and polars."""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow.dataset as ds

from multigate.exit_codes import ExitCode
from multigate.sample.vix import write_vix_samples

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
    write_vix_samples(tmp_path / "samples")
    assert run_cli("--config", write_config(CONFIG)).code == ExitCode.OK
    folder = tmp_path / "data/ingested/vix/cboe"

    # Sidecars sit beside the data: tell pyarrow to skip what is not Parquet.
    arrow = ds.dataset(folder, format="parquet", exclude_invalid_files=True).to_table()
    assert sorted(set(arrow["symbol"].to_pylist())) == ["VIX", "VIX3M"]

    con = duckdb.connect()
    duck = con.execute(
        f"select symbol, count(*) from read_parquet('{folder}/*.parquet') group by 1 order by 1"
    ).fetchall()
    assert [symbol for symbol, _ in duck] == ["VIX", "VIX3M"]
    assert sum(count for _, count in duck) == arrow.num_rows

    lazy = pl.scan_parquet(folder / "*.parquet").select(pl.len()).collect()
    assert lazy.item() == arrow.num_rows
