"""Snapshot storage that grows with what runs change: records of changes on a checkpoint,
exact ``as_of`` reads of every snapshot (also after pruning), no sidecar re-read for
unchanged outputs, and records written before deltas still read."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from multigate import Catalog
from multigate.catalog import CatalogError
from multigate.storage.layout import SIDECAR_SUFFIX, sidecar_path
from multigate.storage.outputs import describe_output
from multigate.storage.parquet import write_parquet
from multigate.storage.provenance import FileDigest, Provenance, sha256_of
from multigate.storage.publish import prune_stale_outputs, publish_file
from multigate.storage.snapshots import SnapshotRecord

SOURCE, JOB = "test", "daily"
KEY = NAME = f"{SOURCE}/{JOB}"
OUTPUTS = 2_000
RUNS = 30


# -- a job of many small outputs, published with the project's own publish path ---------


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


def provenance(symbol: str, table: pa.Table, digest: FileDigest) -> Provenance:
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


def publish(data_dir: Path, symbol: str, version: int = 0) -> Path:
    """Write (or replace) one output the way jobs do: atomically, then its sidecar."""
    path = output_path(data_dir, symbol)
    table = one_symbol_table(symbol, version)
    publish_file(
        path,
        lambda tmp: write_parquet(table, tmp),
        lambda digest: provenance(symbol, table, digest),
        data_dir=data_dir,
    )
    return path


def write_many(data_dir: Path, count: int) -> list[Path]:
    """``count`` outputs written plainly (fast; the same bytes and sidecars as ``publish``)."""
    paths = []
    for index in range(count):
        symbol = f"S{index:04d}"
        path = output_path(data_dir, symbol)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = one_symbol_table(symbol, 0)
        write_parquet(table, path)
        digest = FileDigest(str(path.relative_to(data_dir)), sha256_of(path), path.stat().st_size)
        record = provenance(symbol, table, digest)
        sidecar_path(path).write_text(record.to_json(datetime.now(UTC)))
        paths.append(path)
    return paths


def record_run(data_dir: Path, outputs: list[Path]) -> SnapshotRecord | None:
    from multigate.storage.snapshots import RunRecorder

    recorder = RunRecorder(data_dir, now=lambda: datetime.now(UTC))
    recorder.add_job(SOURCE, JOB, {"name": JOB}, outputs)
    return recorder.commit()


def tree_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def current_manifest(data_dir: Path, outputs: list[Path]) -> dict[str, str]:
    """Each output's path and the sha256 of its bytes."""
    return {path.relative_to(data_dir).as_posix(): sha256_of(path) for path in outputs}


def rows_of(files: list[Path]) -> pd.DataFrame:
    if not files:
        return pd.DataFrame()
    frame = pa.concat_tables([pq.read_table(path) for path in files]).to_pandas()
    return frame.sort_values(["timestamp", "symbol"], kind="stable").reset_index(drop=True)


# -- the growing job --------------------------------------------------------------------


@pytest.fixture(scope="module")
def grown_once(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 2,000-output job, snapshotted, then 30 runs that each add one output; some also
    replace an output with new bytes (every 7th) or drop one (every 10th, from the 5th)."""
    tmp_path = tmp_path_factory.mktemp("grown")
    data_dir = tmp_path / "data"
    outputs = write_many(data_dir, OUTPUTS)
    time.sleep(0.05)  # let the coarse file clock tick past the writes (see signatures)
    first = record_run(data_dir, outputs)
    assert first is not None
    store = data_dir / ".snapshots"
    full_record = (store / "runs" / f"{first.id}.json").stat().st_size
    touched = [f"S{r:04d}" for r in range(7, RUNS + 1, 7)] + [
        f"S{r + 100:04d}" for r in range(5, RUNS + 1, 10)
    ]
    touched += [f"N{r:03d}" for r in range(1, RUNS + 1)]
    copies = tmp_path / "copies"
    now = current_manifest(data_dir, outputs)
    expected: dict[str, dict[str, str]] = {first.id: dict(now)}
    files_then: dict[str, list[Path]] = {
        first.id: _copy_touched(data_dir, first.id, touched, copies)
    }
    growth: list[tuple[int, int, int]] = []
    ids = [first.id]
    for run in range(1, RUNS + 1):
        kept_before = _objects(store)
        before = tree_bytes(store) - sum(kept_before.values())
        outputs.append(publish(data_dir, f"N{run:03d}"))
        changed = [outputs[-1]]
        kept_bytes = 0
        if run % 7 == 0:
            replaced = output_path(data_dir, f"S{run:04d}")
            kept_bytes += replaced.stat().st_size
            changed.append(publish(data_dir, f"S{run:04d}", version=run))
        if run % 10 == 5:
            dropped = output_path(data_dir, f"S{run + 100:04d}")
            kept_bytes += dropped.stat().st_size
            outputs.remove(dropped)
            del now[dropped.relative_to(data_dir).as_posix()]
            folder = data_dir / "ingested" / SOURCE / JOB
            assert prune_stale_outputs(folder, outputs, source=SOURCE, job=JOB) == [dropped]
        record = record_run(data_dir, outputs)
        assert record is not None and record.datasets == [NAME]
        objects = _objects(store)
        new_objects = sum(size for name, size in objects.items() if name not in kept_before)
        assert new_objects == kept_bytes  # exactly the replaced or dropped bytes
        growth.append((tree_bytes(store) - sum(objects.values()) - before, new_objects, run))
        now.update(current_manifest(data_dir, changed))
        expected[record.id] = dict(now)
        files_then[record.id] = _copy_touched(data_dir, record.id, touched, copies)
        ids.append(record.id)
    return {
        "data_dir": data_dir,
        "ids": ids,
        "expected": expected,
        "files_then": files_then,
        "touched": touched,
        "growth": growth,
        "full_record": full_record,
    }


@pytest.fixture
def grown(grown_once: dict, tmp_path: Path) -> dict:
    """The grown job in a data folder of the test's own (tests may prune it)."""
    data_dir = tmp_path / "data"
    shutil.copytree(grown_once["data_dir"], data_dir)
    return {**grown_once, "data_dir": data_dir}


def _objects(store: Path) -> dict[str, int]:
    folder = store / "objects"
    if not folder.is_dir():
        return {}
    return {path.name: path.stat().st_size for path in folder.iterdir()}


def _copy_touched(data_dir: Path, snapshot_id: str, touched: list[str], into: Path) -> list[Path]:
    """Copies of the files of the touched symbols as they are now (what as_of must read)."""
    copies = []
    for symbol in touched:
        path = output_path(data_dir, symbol)
        if path.is_file():
            target = into / snapshot_id / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copies.append(target)
    return copies


def assert_snapshots_exact(grown: dict, ids: list[str]) -> None:
    from multigate.storage.snapshots import job_manifest

    data_dir = grown["data_dir"]
    catalog = Catalog.open(data_dir)
    for sid in ids:
        manifest = job_manifest(data_dir, sid, KEY)
        got = {path: entry.sha256 for path, entry in manifest.entries.items()}
        assert got == grown["expected"][sid], sid
        table = catalog.read(NAME, symbols=grown["touched"], as_of=sid, allow_missing=True)
        pd.testing.assert_frame_equal(
            table.to_pandas(), rows_of(grown["files_then"][sid]), check_exact=True
        )


def test_each_run_stores_what_it_changed_and_every_snapshot_reads_exactly(grown):
    from multigate.storage.snapshots import read_snapshot

    full = grown["full_record"]
    assert full > OUTPUTS * 150  # the first snapshot lists every output once
    for record_growth, _, run in grown["growth"]:
        # a record of one to three changes (and heads.json), not the 2,000-output list
        assert 0 < record_growth < 3_000, (run, record_growth, full)
    assert sum(growth for growth, _, _ in grown["growth"]) < full / 10
    data_dir = grown["data_dir"]
    for sid in grown["ids"][1:]:
        part = read_snapshot(data_dir, sid).jobs[KEY]
        assert part.base is not None and len(part.outputs) <= 2
    assert_snapshots_exact(grown, grown["ids"])
    # as_of a time between two runs reads the earlier one
    catalog = Catalog.open(data_dir)
    whole_first = catalog.read(NAME, as_of=grown["ids"][0])
    assert whole_first.num_rows == OUTPUTS * 3
    assert catalog.read(NAME).num_rows == (OUTPUTS + RUNS - 3) * 3


def test_prune_folds_deltas_so_kept_snapshots_still_read_exactly(grown):
    from multigate.storage.snapshots import prune_snapshots, read_snapshot

    data_dir, ids = grown["data_dir"], grown["ids"]
    removed, deleted = prune_snapshots(data_dir, keep=10)
    assert removed == ids[:-10]
    kept = ids[-10:]
    # the oldest kept snapshot became a checkpoint; the ones after it stay changes
    assert read_snapshot(data_dir, kept[0]).jobs[KEY].base is None
    assert all(read_snapshot(data_dir, sid).jobs[KEY].base for sid in kept[1:])
    assert_snapshots_exact(grown, kept)
    catalog = Catalog.open(data_dir)
    with pytest.raises(CatalogError, match="unknown snapshot"):
        catalog.read(NAME, as_of=ids[0])
    # objects left: exactly the bytes a kept snapshot holds that are no longer in place
    current = set(grown["expected"][ids[-1]].values())
    held = {sha for sid in kept for sha in grown["expected"][sid].values()} - current
    objects = {p.name.removesuffix(".parquet") for p in (data_dir / ".snapshots/objects").iterdir()}
    assert objects == held and deleted > 0

    created = Catalog.open(data_dir).snapshots()[5].created_at
    removed, _ = prune_snapshots(data_dir, before=created)
    assert removed == kept[:5]
    assert_snapshots_exact(grown, kept[5:])


# -- run-end cost: sidecars of unchanged outputs are not read ----------------------------

_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | Path):
        _opened.append(str(args[0]))


@pytest.fixture
def sidecar_opens() -> Iterator[Callable[[], set[str]]]:
    """Names of the sidecars opened (by anything in this process) while the test runs."""
    global _opened
    if not getattr(sys, "_multigate_test_audit", False):
        sys.addaudithook(_audit)
        sys._multigate_test_audit = True  # type: ignore[attr-defined]
    _opened = []

    def opened() -> set[str]:
        assert _opened is not None
        names = {Path(name).name for name in _opened if name.endswith(SIDECAR_SUFFIX)}
        _opened.clear()
        return names

    yield opened
    _opened = None


def test_a_run_reads_only_the_sidecars_of_outputs_that_changed(tmp_path, sidecar_opens):
    data_dir = tmp_path / "data"
    outputs = write_many(data_dir, 500)
    time.sleep(0.05)
    first = record_run(data_dir, outputs)
    assert first is not None
    sidecar_opens()

    outputs.append(publish(data_dir, "NEW"))
    time.sleep(0.05)  # else NEW counts as racily clean and is read again next time
    sidecar_opens()  # what the publish itself read
    assert record_run(data_dir, outputs) is not None
    assert sidecar_opens() == {"NEW.parquet.source.json"}

    assert record_run(data_dir, outputs) is None  # nothing changed: nothing read either
    assert sidecar_opens() == set()

    # a run whose snapshot was never recorded (it failed) is caught up by the next one
    publish(data_dir, "S0003", version=5)
    outputs.append(publish(data_dir, "NEWER"))
    time.sleep(0.05)
    sidecar_opens()
    record = record_run(data_dir, outputs)
    assert record is not None
    assert sidecar_opens() == {"S0003.parquet.source.json", "NEWER.parquet.source.json"}
    from multigate.storage.snapshots import job_manifest

    manifest = job_manifest(data_dir, record.id, KEY)
    assert {p: e.sha256 for p, e in manifest.entries.items()} == current_manifest(data_dir, outputs)


# -- records written before deltas ---------------------------------------------------------------


def test_records_written_before_deltas_still_read_and_the_next_run_builds_on_them(tmp_path):
    """A format-1 record (the whole manifest as a list, as the first catalog wrote it)."""
    from multigate.storage.snapshots import job_manifest, read_snapshot

    data_dir = tmp_path / "data"
    outputs = write_many(data_dir, 50)
    entries = [describe_output(path, data_dir) for path in outputs]
    old_id = "20250101T000000000000Z"
    record = {
        "id": old_id,
        "created_at": "2025-01-01T00:00:00+00:00",
        "config_hash": "0" * 64,
        "datasets": [NAME],
        "jobs": {KEY: [entry.to_dict() for entry in entries if entry is not None]},
    }
    runs = data_dir / ".snapshots/runs"
    runs.mkdir(parents=True)
    (runs / f"{old_id}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    heads = {KEY: {"id": old_id, "digest": "old"}}
    (data_dir / ".snapshots/heads.json").write_text(json.dumps(heads))
    old_rows = rows_of(outputs)

    publish(data_dir, "S0001", version=9)
    outputs.append(publish(data_dir, "NEW"))
    new = record_run(data_dir, outputs)
    assert new is not None and read_snapshot(data_dir, new.id).jobs[KEY].base == old_id
    assert len(read_snapshot(data_dir, new.id).jobs[KEY].outputs) == 2
    manifest = job_manifest(data_dir, new.id, KEY)
    assert {p: e.sha256 for p, e in manifest.entries.items()} == current_manifest(data_dir, outputs)
    catalog = Catalog.open(data_dir)
    pd.testing.assert_frame_equal(
        catalog.read(NAME, as_of=old_id).to_pandas(), old_rows, check_exact=True
    )
    pd.testing.assert_frame_equal(
        catalog.read(NAME, as_of=new.id).to_pandas(), rows_of(outputs), check_exact=True
    )


# -- checkpoints ------------------------------------------------------------------------


def test_a_checkpoint_follows_once_the_changes_weigh_as_much_as_the_whole_list(tmp_path):
    from multigate.storage.snapshots import job_manifest, read_snapshot

    data_dir = tmp_path / "data"
    outputs = write_many(data_dir, 10)
    time.sleep(0.05)
    ids = [record_run(data_dir, outputs).id]
    expected = {ids[0]: current_manifest(data_dir, outputs)}
    for run in range(1, 13):
        publish(data_dir, f"S{run % 10:04d}", version=run)  # one replaced output per run
        time.sleep(0.02)
        record = record_run(data_dir, outputs)
        assert record is not None
        ids.append(record.id)
        expected[record.id] = current_manifest(data_dir, outputs)
    bases = [read_snapshot(data_dir, sid).jobs[KEY].base for sid in ids]
    # 10 outputs + 10 signatures; each change stores an output and its signature
    assert bases[:10] == [None, *ids[:9]]
    assert bases[10] is None and bases[11] == ids[10] and bases[12] == ids[11]
    for sid in ids:
        got = job_manifest(data_dir, sid, KEY).entries
        assert {path: entry.sha256 for path, entry in got.items()} == expected[sid]

    # a record lost outside prune: the snapshots built on it say so, no traceback
    (data_dir / ".snapshots/runs" / f"{ids[3]}.json").unlink()
    catalog = Catalog.open(data_dir)
    with pytest.raises(CatalogError, match=f"base {ids[3]} is missing"):
        catalog.read(NAME, as_of=ids[5])
    assert catalog.read(NAME, as_of=ids[11]).num_rows == 30  # after the checkpoint


def test_the_catalog_index_applies_each_runs_changes(tmp_path):
    from multigate.catalog.index import OutputIndex
    from multigate.storage.snapshots import read_snapshot

    data_dir = tmp_path / "data"
    outputs = write_many(data_dir, 40)
    time.sleep(0.05)
    record_run(data_dir, outputs)
    assert Catalog.open(data_dir).dataset(NAME).files == 40  # the index is saved here
    folder = data_dir / "ingested" / SOURCE / JOB
    for run in range(1, 4):
        outputs.append(publish(data_dir, f"N{run}"))
        publish(data_dir, f"S{run:04d}", version=run)
        outputs.remove(output_path(data_dir, f"S{run + 10:04d}"))
        prune_stale_outputs(folder, outputs, source=SOURCE, job=JOB)
        record = record_run(data_dir, outputs)
        assert record is not None and read_snapshot(data_dir, record.id).jobs[KEY].base

        catalog = Catalog.open(data_dir)  # brings the saved index up to date
        info = catalog.dataset(NAME)
        assert (info.files, info.rows, info.snapshot) == (40, 120, record.id)
        pd.testing.assert_frame_equal(
            catalog.read(NAME).to_pandas(), rows_of(sorted(outputs)), check_exact=True
        )
        applied = OutputIndex.open(data_dir).table.sort_by("path")
        assert applied.equals(OutputIndex.open(data_dir, rebuild=True).table.sort_by("path"))
