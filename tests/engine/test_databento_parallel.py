"""The engine runs a Databento job's conversions serially, in a process pool or on Dask:
the same bytes and sidecars every way (a mixed capture split into one output per schema
too), nothing written by a second run, and a corrupt file fails alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import databento_dbn as dbn
import pytest

from multigate.exit_codes import ExitCode
from multigate.sources.databento.dbn_synthetic import write_synthetic_file
from multigate.storage.layout import sidecar_path
from tests.conftest import engine_outputs, snapshot
from tests.engine.helpers import leftovers

CONFIG = """\
data_dir: {data}
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: many
        mode: offline
        raw_dir: dbn
"""
OUT = "ingested/databento/many"


T0 = 1_700_006_400_000_000_000  # 2023-11-15T00:00:00Z
PX = 4_500_000_000_000


def mixed_capture(path: Path) -> None:
    """A live-like capture (no schema in its metadata) of trades, quotes and bars, with a
    symbol mapping, a system and an error message."""
    meta = dbn.Metadata(
        dataset="GLBX.MDP3",
        start=T0,
        stype_in=None,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=None,
        symbols=[],
        mappings=[],
        version=3,
    )
    mapping = dbn.SymbolMappingMsg(
        1, 5, T0, dbn.SType.PARENT, "ES.FUT", dbn.SType.RAW_SYMBOL, "ESZ3", T0, T0 + 10**15
    )
    recs: list[object] = [mapping, dbn.SystemMsg(T0, "Subscription succeeded")]
    bar = dbn.RType.from_schema(dbn.Schema.OHLCV_1M)
    for i in range(90):
        ts = T0 + i * 10**9
        side = dbn.Side.BID if i % 2 else dbn.Side.ASK
        level = dbn.BidAskPair(PX + i, PX + i + 250, 3, 4, 1, 1)
        recs.append(
            (
                dbn.TradeMsg(1, 5, ts, PX + i, i + 1, dbn.Action.TRADE, side, 0, ts + 9, i),
                dbn.MBP1Msg(1, 5, ts, PX, 2, dbn.Action.ADD, side, 0, ts + 9, levels=level),
                dbn.OHLCVMsg(bar, 1, 5, ts, PX, PX + 5, PX - 5, PX + i, 10 + i),
            )[i % 3]
        )
    recs.append(dbn.ErrorMsg(T0 + 10**11, "gateway lagging"))
    path.write_bytes(bytes(meta.encode()) + b"".join(bytes(r) for r in recs))  # type: ignore[call-overload]


def write_dbn_files(folder: Path) -> list[str]:
    """Five synthetic files of three schemas and one mixed live capture; their names."""
    folder.mkdir(parents=True)
    for index, schema in enumerate(["trades", "trades", "mbp-1", "ohlcv-1m", "trades"]):
        write_synthetic_file(folder / f"f{index}.dbn.zst", schema, 20_000 + index, seed=index)
    mixed_capture(folder / "capture.dbn")
    return sorted(path.name for path in folder.iterdir())


def published(data_dir: Path) -> dict[str, object]:
    """Every output's bytes, and its sidecar without ``created_at``."""
    found: dict[str, object] = {}
    for path in sorted(engine_outputs(data_dir / OUT, recursive=True)):
        record = json.loads(sidecar_path(path).read_text())
        record.pop("created_at")
        found[str(path.relative_to(data_dir / OUT))] = (path.read_bytes(), record)
    return found


def converted_on(scheduler: str) -> int:
    """How many convert tasks the cluster behind ``scheduler`` has finished so far. The
    cluster serves every test of this process: compare the count before and after a run."""
    distributed = pytest.importorskip("distributed")
    with distributed.Client(scheduler, timeout="20s") as client:
        return int(client.run_on_scheduler(_convert_tasks_finished))


def _convert_tasks_finished(dask_scheduler: Any) -> int:
    prefix = dask_scheduler.task_prefixes.get("convert")
    return 0 if prefix is None else int(prefix.state_counts["memory"])


def test_bytes_and_sidecars_are_identical_for_one_two_workers_and_dask(
    tmp_path, write_config, run_cli, executor_args, dask_scheduler
):
    write_dbn_files(tmp_path / "dbn")
    converted_before = converted_on(dask_scheduler)
    results = {}
    for kind in ("1", "2", "dask"):
        data = f"data-{kind}"
        config = write_config(CONFIG.format(data=data))
        args = executor_args(kind)
        run = run_cli("--config", config, *args)
        assert run.code == ExitCode.OK, run.err
        results[kind] = published(tmp_path / data)
        before = snapshot(tmp_path / data)
        again = run_cli("--config", config, *args)  # a second run writes nothing
        assert again.code == ExitCode.OK, again.err
        assert snapshot(tmp_path / data) == before
        assert "1 error message(s) from the gateway" in again.out + again.err  # read back
        assert not leftovers(tmp_path / data)
    # the Dask run's conversions (6 files, a capture split in 3) ran on the cluster
    assert converted_on(dask_scheduler) - converted_before == 6
    names = sorted(results["1"])
    assert [name for name in names if name.endswith("/capture.dbn.parquet")] == [
        "schema=mbp-1/capture.dbn.parquet",
        "schema=ohlcv-1m/capture.dbn.parquet",
        "schema=trades/capture.dbn.parquet",
    ]
    assert len(names) == 8
    assert results["2"] == results["1"]
    assert results["dask"] == results["1"]
    record = results["1"]["schema=mbp-1/capture.dbn.parquet"][1]
    assert record["vendor"]["schema"] == "mbp-1" and record["extra"]["other_records"] == {
        "symbol_mapping": 1,
        "system": 1,
        "error": 1,
    }
    assert record["extra"]["converter"] == "databento-dbn/3" and record["quality"]


@pytest.mark.parametrize("kind", ["2", "dask"])
def test_a_corrupt_file_fails_alone_in_parallel(
    tmp_path, write_config, run_cli, request, executor_args, kind
):
    write_dbn_files(tmp_path / "dbn")
    good = (tmp_path / "dbn/f1.dbn.zst").read_bytes()
    (tmp_path / "dbn/f2.dbn.zst").write_bytes(good[: len(good) // 2])  # cut mid-stream
    scheduler = request.getfixturevalue("dask_scheduler") if kind == "dask" else None
    converted_before = converted_on(scheduler) if scheduler else 0
    config = write_config(CONFIG.format(data="data"))
    run = run_cli("--config", config, *executor_args(kind))
    assert run.code == ExitCode.JOB_FAILED
    assert "1 of 6 files failed" in run.err and "f2.dbn.zst" in run.err
    names = sorted(published(tmp_path / "data"))
    assert len(names) == 7 and not [name for name in names if "f2" in name]
    assert not leftovers(tmp_path / "data")
    if scheduler:  # the good files were converted on the cluster
        assert converted_on(scheduler) - converted_before >= 5


def test_a_missing_output_of_a_split_capture_is_made_again(tmp_path, write_config, run_cli):
    """A capture splits into one output per schema; losing one of them (a run killed
    between their publishes, a hand deletion) makes the capture stale, never 'up to date'."""
    (tmp_path / "dbn").mkdir()
    mixed_capture(tmp_path / "dbn/capture.dbn")
    config = write_config(CONFIG.format(data="data"))
    assert run_cli("--config", config).code == ExitCode.OK
    outputs = sorted(engine_outputs(tmp_path / "data" / OUT, recursive=True))
    assert len(outputs) >= 2
    before = published(tmp_path / "data")
    lost = outputs[-1]
    lost.unlink()
    sidecar_path(lost).unlink()
    again = run_cli("--config", config)
    assert again.code == ExitCode.OK, again.err
    assert published(tmp_path / "data") == before


def test_a_partly_failed_job_is_readable_through_the_catalog(tmp_path, write_config, run_cli):
    """What a failing job did publish is in the catalog (read, ls), not only on disk."""
    from multigate import Catalog

    folder = tmp_path / "dbn"
    folder.mkdir()
    write_synthetic_file(folder / "f0.dbn.zst", "trades", 1_000, seed=1)
    config = write_config(CONFIG.format(data="data"))
    assert run_cli("--config", config).code == ExitCode.OK
    write_synthetic_file(folder / "f1.dbn.zst", "trades", 2_000, seed=2)
    (folder / "bad.dbn").write_bytes(b"DBN\x03not a dbn file at all")
    assert run_cli("--config", config).code == ExitCode.JOB_FAILED
    table = Catalog.open(tmp_path / "data").read("databento/many")
    assert table.num_rows == 3_000
