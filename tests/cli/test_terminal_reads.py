"""Data in the terminal (`multigate read` without --out, `show`, `ls`), unknown symbols
named, and reads that never write where they should not."""

from __future__ import annotations

import hashlib

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from multigate.catalog import Catalog
from multigate.catalog.errors import UnknownSymbols
from multigate.exit_codes import ExitCode

VIX = "vix/vix_sample"


def _stored(data, name="VIX"):
    """The stored VIX rows, read with pyarrow alone (the reference)."""
    return pq.read_table(data / "ingested" / "vix" / "vix_sample" / f"{name}.parquet")


def test_read_without_out_prints_head_and_tail(data, multigate, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = multigate("read", VIX, "--data-dir", data, "--symbols", "VIX", "--limit", "4")
    assert result.code == ExitCode.OK, result.err
    lines = result.out.splitlines()
    table = _stored(data)
    dates = [value.isoformat() for value in table["date"].to_pylist()]
    closes = table["close"].to_pylist()
    assert lines[0].split() == ["date", "symbol", "open", "high", "low", "close"]
    shown = [line.split() for line in lines[1:-1]]
    assert [row[0] for row in shown] == [*dates[:2], "…", *dates[-2:]]
    assert float(shown[0][5]) == closes[0] and float(shown[-1][5]) == closes[-1]
    assert lines[-1].startswith(f"{table.num_rows:,} rows (4 shown")


def test_read_of_a_small_selection_shows_every_row(data, multigate):
    result = multigate(
        "read", VIX, "--data-dir", data, "--symbols", "VIX", "--end", "1990-01-05", "--limit", "9"
    )
    assert result.code == ExitCode.OK, result.err
    assert "…" not in result.out
    assert [line.split()[0] for line in result.out.splitlines()[1:-1]] == [
        "1990-01-02",
        "1990-01-03",
        "1990-01-04",
    ]
    assert "3 rows (all shown" in result.out


def test_show_gives_column_stats_and_sample_rows(data, multigate, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = multigate("show", VIX, "--data-dir", data)
    assert result.code == ExitCode.OK, result.err
    both = [_stored(data, "VIX"), _stored(data, "VIX3M")]
    low = min(pc.min(table["close"]).as_py() for table in both)
    high = max(pc.max(table["close"]).as_py() for table in both)
    close_line = next(line for line in result.out.splitlines() if line.split()[:1] == ["close"])
    assert close_line.split() == ["close", "double", "0", f"{low:.10g}", f"{high:.10g}"]
    assert "quality      ohlc_inconsistent 13" in result.out
    sample = result.out.split("sample rows", 1)[1].splitlines()
    assert sample[1].split()[:2] == ["date", "symbol"]
    assert sample[2].split()[:2] == ["1990-01-02", "VIX"]


def test_ls_shows_each_datasets_quality_summary(data, multigate, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # ls is never cut: the quality column must show
    result = multigate("ls", "--data-dir", data)
    assert result.code == ExitCode.OK, result.err
    assert result.out.splitlines()[0].split()[-1] == "quality"
    rows = {line.split()[0]: line for line in result.out.splitlines()[1:]}
    for info in Catalog.open(data).datasets():
        expected = ", ".join(f"{k} {v:,}" for k, v in sorted(info.quality.items())) or "ok"
        assert rows[info.name].endswith(expected), (info.name, rows[info.name])
    assert rows[VIX].endswith("ohlc_inconsistent 13")


def test_unknown_symbols_are_named_not_read_as_zero_rows(data, multigate, tmp_path):
    out = tmp_path / "out.csv"
    refused = multigate("read", VIX, "--data-dir", data, "--symbols", "NOPE,VIX", "--out", out)
    assert refused.code == ExitCode.CONFIG_ERROR
    assert "unknown symbol(s) NOPE" in refused.err and "VIX, VIX3M" in refused.err
    assert not out.exists()
    allowed = multigate(
        "read", VIX, "--data-dir", data, "--symbols", "NOPE,VIX", "--allow-missing", "--out", out
    )
    assert allowed.code == ExitCode.OK, allowed.err
    assert f"wrote {_stored(data).num_rows:,} rows" in allowed.out
    catalog = Catalog.open(data)
    with pytest.raises(UnknownSymbols, match="NOPE"):
        catalog.read(VIX, symbols=["NOPE"])
    assert catalog.read(VIX, symbols=["NOPE"], allow_missing=True).num_rows == 0
    snapshot = catalog.snapshots(VIX)[0].id
    with pytest.raises(UnknownSymbols, match="NOPE"):
        catalog.read(VIX, symbols=["VIX", "NOPE"], as_of=snapshot)


def test_out_inside_the_data_folder_is_refused(data, multigate):
    target = data / "ingested" / "vix" / "vix_sample" / "VIX.parquet"
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    for out in (target, data / "export.csv"):
        result = multigate("read", VIX, "--data-dir", data, "--out", out)
        assert result.code == ExitCode.CONFIG_ERROR
        assert "inside the data folder" in result.err
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert not (data / "export.csv").exists()
    assert Catalog.open(data).dataset(VIX).rows == 5200


def test_a_read_command_never_writes_into_a_folder_that_is_not_a_data_folder(tmp_path, multigate):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "passwd").write_text("root:x:0:0\n")
    for command in (["ls"], ["snapshots"], ["check"], ["check", "--verify"]):
        result = multigate(*command, "--data-dir", folder)
        assert result.code == ExitCode.OK, (command, result.err)
    pruned = multigate("snapshots", "prune", "--keep", "1", "--data-dir", folder)
    assert pruned.code == ExitCode.CONFIG_ERROR
    assert "is not a data folder" in pruned.err
    assert sorted(path.name for path in folder.rglob("*")) == ["passwd"]


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--start", "-1", "start: '-1' is not a date"),
        ("--end", "99999-01-01", "is not a date"),
        ("--as-of", "20240102T000000000000X", "neither a run id"),
    ],
)
def test_bad_times_are_one_clear_line(data, multigate, flag, value, words):
    result = multigate("read", VIX, "--data-dir", data, f"{flag}={value}")
    assert result.code == ExitCode.CONFIG_ERROR
    assert words in result.err and "Traceback" not in result.err


def test_a_start_before_1677_reads_every_row(data, multigate):
    result = multigate("read", VIX, "--data-dir", data, "--start", "0001-01-01", "--limit", "2")
    assert result.code == ExitCode.OK, result.err
    assert "5,200 rows" in result.out
