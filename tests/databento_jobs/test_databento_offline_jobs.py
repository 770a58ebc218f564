"""Databento offline jobs through the dispatcher, over the real vendor sample files."""

from __future__ import annotations

from pathlib import Path

import databento as db
import pandas as pd
import pyarrow.parquet as pq
import pytest

from multigate.exit_codes import ExitCode
from multigate.sample.databento import INSTRUMENTS, write_databento_samples
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import snapshot

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")

CONFIG = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        raw_dir: dbn
        price_type: {price_type}
"""


def link_files(folder: Path, files: list[Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        (folder / file.name).symlink_to(file)


def test_real_files_ingest_and_a_corrupt_one_fails_alone(tmp_path, write_config, run_cli, testdata):
    real = sorted((testdata / "databento/databento-python/GLBX.MDP3").glob("*.dbn.zst"))
    assert len(real) >= 10
    link_files(tmp_path / "dbn", real)
    (tmp_path / "dbn/broken.trades.dbn.zst").write_bytes(real[0].read_bytes()[:40])
    result = run_cli("--config", write_config(CONFIG.format(price_type="float")))
    assert result.code == ExitCode.JOB_FAILED
    assert "broken.trades.dbn.zst" in result.err and "1 of" in result.err
    outputs = sorted((tmp_path / "data/ingested/databento/local").rglob("*.parquet"))
    assert not [p for p in outputs if "broken" in p.name]
    assert len(outputs) == len(real)
    for source in real:
        stem = source.name.removesuffix(".dbn.zst")
        (out,) = [p for p in outputs if p.name == f"{stem}.parquet"]
        want = db.DBNStore.from_file(source).to_df().reset_index()
        got = pq.read_table(out).to_pandas()
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        sidecar = read_sidecar(out)
        assert sidecar is not None and sidecar["inputs"][0]["sha256"] == sha256_of(source)


def test_fixed_prices_keep_the_raw_integers(tmp_path, write_config, run_cli, testdata):
    source = testdata / "databento/databento-python/GLBX.MDP3/test_data.trades.dbn.zst"
    link_files(tmp_path / "dbn", [source])
    assert run_cli("--config", write_config(CONFIG.format(price_type="fixed"))).code == 0
    out = tmp_path / "data/ingested/databento/local/schema=trades/test_data.trades.parquet"
    got = pq.read_table(out).to_pandas()
    want = db.DBNStore.from_file(source).to_df(price_type="fixed").reset_index()
    assert got["price"].dtype == "int64"
    assert got["price"].tolist() == want["price"].tolist()


def test_sample_roll_maps_both_instruments_to_one_symbol(tmp_path, write_config, run_cli):
    files = write_databento_samples(tmp_path / "dbn")
    result = run_cli("--config", write_config(CONFIG.format(price_type="float")))
    assert result.code == ExitCode.OK, result.err
    out = tmp_path / "data/ingested/databento/local/schema=trades/glbx-mdp3.trades.parquet"
    got = pq.read_table(out).to_pandas()
    first, second = INSTRUMENTS["ES.c.0"]
    es = got[got["symbol"] == "ES.c.0"]
    assert set(es["instrument_id"]) == {first, second}
    want = db.DBNStore.from_file(files[0]).to_df().reset_index()
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    before = snapshot(tmp_path / "data")
    again = run_cli("--config", write_config(CONFIG.format(price_type="float")))
    assert again.code == ExitCode.OK and snapshot(tmp_path / "data") == before


def test_price_type_change_reconverts(tmp_path, write_config, run_cli):
    write_databento_samples(tmp_path / "dbn")
    assert run_cli("--config", write_config(CONFIG.format(price_type="float"))).code == 0
    assert run_cli("--config", write_config(CONFIG.format(price_type="fixed"))).code == 0
    out = tmp_path / "data/ingested/databento/local/schema=trades/glbx-mdp3.trades.parquet"
    assert pq.read_schema(out).field("price").type == "int64"
