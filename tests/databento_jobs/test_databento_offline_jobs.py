"""Databento offline jobs through the dispatcher: generated DBN files of every version, the
naming of outputs, and (group `vendor_samples`) the real vendor sample files."""

from __future__ import annotations

from pathlib import Path

import databento as db
import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from multigate.exit_codes import ExitCode
from multigate.sample.databento import INSTRUMENTS, write_databento_samples
from multigate.sources.databento.dbn_legacy import LEGACY_DEFINITION_FIELDS
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import engine_outputs, snapshot
from tests.databento.dbn_helpers import assert_matches_vendor_any_version, by_symbol
from tests.databento.dbn_versions import all_version_schemas, write_version_file

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


def _outputs(tmp_path: Path) -> list[Path]:
    return sorted(engine_outputs(tmp_path / "data/ingested/databento/local", recursive=True))


def _vendor_df(source: Path, price_type: str = "float") -> pd.DataFrame:
    return db.DBNStore.from_file(source).to_df(price_type=price_type).reset_index()


def test_every_version_ingests_and_a_corrupt_file_fails_alone(tmp_path, write_config, run_cli):
    made = [
        write_version_file(tmp_path / "dbn", version, schema)
        for version, schema in all_version_schemas()
        if schema in ("trades", "mbp-10", "ohlcv-1m", "definition", "statistics", "status")
    ]
    (tmp_path / "dbn/broken.trades.dbn.zst").write_bytes(made[0].read_bytes()[:40])
    result = run_cli("--config", write_config(CONFIG.format(price_type="float")))
    assert result.code == ExitCode.JOB_FAILED
    assert "broken.trades.dbn.zst" in result.err and "1 of 19" in result.err
    outputs = _outputs(tmp_path)
    assert len(outputs) == len(made) == 18
    # the summary reports what the good files wrote alongside the failure
    row = next(line for line in result.out.splitlines() if " failed " in line)
    cells = [cell.strip() for cell in row.split("│")]
    status = cells.index("failed")
    assert cells[status + 1 : status + 4] == [f"{18 * 12:,}", "18", "0"]
    for source in made:
        (out,) = [p for p in outputs if p.name == source.name.replace(".dbn.zst", ".parquet")]
        assert_matches_vendor_any_version(pq.read_table(out).to_pandas(), source, "float")
        sidecar = read_sidecar(out)
        assert sidecar is not None and sidecar["inputs"][0]["sha256"] == sha256_of(source)
        assert sidecar["vendor"]["dbn_version"] == int(source.name.split(".v")[1][0])


def test_definitions_of_every_version_share_one_schema(tmp_path, write_config, run_cli):
    """v1/v2 and v3 definition files in one job: one set of columns, so a glob reads them."""
    made = [write_version_file(tmp_path / "dbn", v, "definition") for v in (1, 2, 3)]
    assert run_cli("--config", write_config(CONFIG.format(price_type="float"))).code == 0
    folder = tmp_path / "data/ingested/databento/local/schema=definition"
    schemas = {p.name: pq.read_schema(p).remove_metadata() for p in engine_outputs(folder)}
    assert len(schemas) == len(made) and len(set(map(str, schemas.values()))) == 1
    files = [str(path) for path in engine_outputs(folder)]
    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet({files})").fetchall()
    assert rows == [(36,)]
    v3 = pq.read_table(folder / "definition.v3.parquet").to_pandas()
    assert v3[list(LEGACY_DEFINITION_FIELDS)].isna().all().all()


def test_fixed_prices_keep_the_raw_integers(tmp_path, write_config, run_cli):
    source = write_version_file(tmp_path / "dbn", 3, "trades")
    assert run_cli("--config", write_config(CONFIG.format(price_type="fixed"))).code == 0
    out = tmp_path / "data/ingested/databento/local/schema=trades/trades.v3.parquet"
    got = pq.read_table(out).to_pandas()
    want = by_symbol(_vendor_df(source, "fixed"))  # outputs keep each symbol's rows together
    assert got["price"].dtype == "int64"
    assert got["price"].tolist() == want["price"].tolist()


def test_legacy_dbz_under_raw_dir_fails_by_name_and_the_others_ingest(
    tmp_path, write_config, run_cli
):
    good = write_version_file(tmp_path / "dbn", 3, "trades")
    # Legacy DBZ: a zstd skippable frame (magic 0x184D2A50) holding metadata, then data.
    dbz = tmp_path / "dbn/old/legacy.dbz"
    dbz.parent.mkdir()
    dbz.write_bytes(b"\x50\x2a\x4d\x18" + (8).to_bytes(4, "little") + b"\x00" * 8)
    result = run_cli("--config", write_config(CONFIG.format(price_type="float")))
    assert result.code == ExitCode.JOB_FAILED
    assert "legacy.dbz" in result.err and "1 of 2 files failed" in result.err
    assert "not a DBN stream" in result.err
    (out,) = _outputs(tmp_path)
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), by_symbol(_vendor_df(good)))


def test_inputs_with_one_stem_each_get_their_own_stable_output(tmp_path, write_config, run_cli):
    dbn_dir = tmp_path / "dbn"
    (dbn_dir / "a").mkdir(parents=True)
    (dbn_dir / "b").mkdir()
    (dbn_dir / "symbol=ES").mkdir()
    write_version_file(dbn_dir, 3, "trades", ".dbn.zst").rename(dbn_dir / "x.dbn.zst")
    write_version_file(dbn_dir, 2, "trades", ".dbn").rename(dbn_dir / "x.dbn")
    write_version_file(dbn_dir, 1, "trades", ".dbn.zst").rename(dbn_dir / "a/x.dbn.zst")
    write_version_file(dbn_dir, 2, "trades", ".dbn.zst").rename(dbn_dir / "b/x.dbn.zst")
    write_version_file(dbn_dir, 1, "trades", ".dbn").rename(dbn_dir / "a_x.dbn.zst")
    write_version_file(dbn_dir, 3, "trades", ".dbn").rename(dbn_dir / "symbol=ES/x.dbn")
    config = write_config(CONFIG.format(price_type="float"))
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    folder = tmp_path / "data/ingested/databento/local/schema=trades"
    want = {
        "x.parquet": "x.dbn.zst",
        "x.dbn.parquet": "x.dbn",
        "a~x.parquet": "a/x.dbn.zst",
        "b~x.parquet": "b/x.dbn.zst",
        "a_x.parquet": "a_x.dbn.zst",
        "symbol=ES~x.dbn.parquet": "symbol=ES/x.dbn",
    }
    assert sorted(p.name for p in engine_outputs(folder)) == sorted(want)
    for name, source in want.items():
        sidecar = read_sidecar(folder / name)
        assert sidecar is not None
        assert sidecar["inputs"][0]["sha256"] == sha256_of(dbn_dir / source)
    # stable: a re-run keeps every name, and a new input never renames another's output
    before = snapshot(folder)
    write_version_file(dbn_dir / "a", 3, "trades", ".dbn").rename(dbn_dir / "a/x.dbn")
    assert run_cli("--config", config).code == ExitCode.OK
    after = snapshot(folder)
    kept = {name: state for name, state in before.items() if _engine_file(name)}
    assert {k: v for k, v in after.items() if k in kept} == kept
    added = {name for name in set(after) - set(before) if _engine_file(name)}
    assert added == {"a~x.dbn.parquet", "a~x.dbn.parquet.source.json"}


def test_odd_names_each_get_their_own_output(tmp_path, write_config, run_cli):
    """Output names are one-to-one: `x` (no suffix) never meets `x.dbn.zst`, nor
    `x.dbn.dbn.zst` meet `x.dbn`; the dry run and the run agree."""
    dbn_dir = tmp_path / "dbn"
    dbn_dir.mkdir()
    want = {
        "x.parquet": "x.dbn.zst",
        "x~.parquet": "x",
        "x.dbn.parquet": "x.dbn",
        "x.dbn.dbn.zst~.parquet": "x.dbn.dbn.zst",
        "y%7Ez~.parquet": "y~z",
    }
    for name in want.values():
        write_version_file(dbn_dir, 3, "trades", ".dbn").rename(dbn_dir / name)
    config = write_config(CONFIG.format(price_type="float").replace("raw_dir: dbn", "path: dbn/*"))
    dry = run_cli("--config", config, "--dry-run")
    assert dry.code == ExitCode.OK, dry.err
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    folder = tmp_path / "data/ingested/databento/local/schema=trades"
    assert sorted(p.name for p in engine_outputs(folder)) == sorted(want)
    for name, source in want.items():
        sidecar = read_sidecar(folder / name)
        assert sidecar is not None and sidecar["inputs"][0]["sha256"] == sha256_of(dbn_dir / source)


def test_a_plain_file_without_suffix_ingests(tmp_path, write_config, run_cli):
    (tmp_path / "db2").mkdir()
    write_version_file(tmp_path / "db2", 3, "trades", ".dbn").rename(tmp_path / "db2/x")
    config = write_config(CONFIG.format(price_type="float").replace("raw_dir: dbn", "path: db2/x"))
    dry = run_cli("--config", config, "--dry-run")
    assert dry.code == ExitCode.OK, dry.err
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    (out,) = _outputs(tmp_path)
    assert out.name == "x~.parquet"
    assert_matches_vendor_any_version(pq.read_table(out).to_pandas(), tmp_path / "db2/x", "float")


def test_dry_run_fails_where_the_run_fails(tmp_path, write_config, run_cli):
    write_version_file(tmp_path / "dbn", 3, "trades")
    (tmp_path / "dbn/old").mkdir()
    (tmp_path / "dbn/old/legacy.dbz").write_bytes(b"\x50\x2a\x4d\x18" + bytes(12))
    config = write_config(CONFIG.format(price_type="float"))
    dry = run_cli("--config", config, "--dry-run")
    assert dry.code == ExitCode.JOB_FAILED
    assert "legacy.dbz" in dry.err and "1 of 2 files failed" in dry.err
    assert _outputs(tmp_path) == []
    result = run_cli("--config", config)
    assert result.code == ExitCode.JOB_FAILED and "1 of 2 files failed" in result.err


def test_real_files_ingest_and_a_corrupt_one_fails_alone(tmp_path, write_config, run_cli, testdata):
    real = sorted((testdata / "databento/databento-python/GLBX.MDP3").glob("*.dbn.zst"))
    assert len(real) >= 10
    link_files(tmp_path / "dbn", real)
    (tmp_path / "dbn/broken.trades.dbn.zst").write_bytes(real[0].read_bytes()[:40])
    result = run_cli("--config", write_config(CONFIG.format(price_type="float")))
    assert result.code == ExitCode.JOB_FAILED
    assert "broken.trades.dbn.zst" in result.err and "1 of" in result.err
    outputs = sorted(engine_outputs(tmp_path / "data/ingested/databento/local", recursive=True))
    assert not [p for p in outputs if "broken" in p.name]
    assert len(outputs) == len(real)
    for source in real:
        stem = source.name.removesuffix(".dbn.zst")
        (out,) = [p for p in outputs if p.name == f"{stem}.parquet"]
        want = by_symbol(db.DBNStore.from_file(source).to_df().reset_index())
        got = pq.read_table(out).to_pandas()
        pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
        extra = [c for c in got.columns if c not in want.columns]
        assert got[extra].isna().all().all()  # the legacy definition fields, null in v3
        sidecar = read_sidecar(out)
        assert sidecar is not None and sidecar["inputs"][0]["sha256"] == sha256_of(source)


def test_sample_roll_maps_both_instruments_to_one_symbol(tmp_path, write_config, run_cli):
    files = write_databento_samples(tmp_path / "dbn")
    result = run_cli("--config", write_config(CONFIG.format(price_type="float")))
    assert result.code == ExitCode.OK, result.err
    out = tmp_path / "data/ingested/databento/local/schema=trades/glbx-mdp3.trades.parquet"
    got = pq.read_table(out).to_pandas()
    first, second = INSTRUMENTS["ES.c.0"]
    es = got[got["symbol"] == "ES.c.0"]
    assert set(es["instrument_id"]) == {first, second}
    want = by_symbol(db.DBNStore.from_file(files[0]).to_df().reset_index())
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


def _engine_file(name: str) -> bool:
    """An output or its sidecar, not a file of the table (its log, record and links)."""
    from multigate.storage.delta_tables import is_versioned_name

    base = name.rsplit("/", 1)[-1]
    return not (name.startswith("_delta_log/") or base.startswith(".") or is_versioned_name(base))
