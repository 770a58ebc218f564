"""Outputs sorted by symbol in bounded memory: a file sorted through spilled runs is the
same bytes as one sorted in memory, and holds the vendor's rows symbol by symbol."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from dbn_helpers import assert_matches_vendor, read_parquet_df, vendor_reference

from multigate.sources.databento import dbn_convert
from multigate.sources.databento.dbn_convert import convert_dbn_file
from multigate.sources.databento.dbn_synthetic import write_synthetic_file
from multigate.storage import symbol_runs


class _Spills:
    """Counts the runs a SymbolSorter spills to disk."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs = 0
        real = symbol_runs.SymbolSorter._spill_run

        def counted(sorter: symbol_runs.SymbolSorter) -> None:
            self.runs += 1
            real(sorter)

        monkeypatch.setattr(symbol_runs.SymbolSorter, "_spill_run", counted)


@pytest.mark.parametrize("schema", ["trades", "mbp-1"])
def test_spilled_runs_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: str
) -> None:
    src = tmp_path / f"many.{schema}.dbn.zst"
    write_synthetic_file(src, schema, records=12_000, n_instruments=13, chunk=2_000)
    monkeypatch.setattr(dbn_convert, "CHUNK_BYTES", 1_000 * 80)  # ~1,000-record chunks
    monkeypatch.setattr(dbn_convert, "SORT_RUN_BYTES", 2_000 * 80)  # sorted 2 by 2
    spills = _Spills(monkeypatch)
    (memory,) = convert_dbn_file(src, lambda s: tmp_path / f"memory.{s}.parquet")
    assert spills.runs == 0
    monkeypatch.setattr(symbol_runs, "RUN_BYTES", 150_000)  # a run every few chunks
    (spilled,) = convert_dbn_file(src, lambda s: tmp_path / f"spilled.{s}.parquet")
    assert spills.runs >= 2
    assert spilled.path.read_bytes() == memory.path.read_bytes()
    assert_matches_vendor(read_parquet_df(spilled.path), vendor_reference(src))
    assert list(tmp_path.glob(".multigate-sort-*")) == []


def test_row_groups_end_with_a_symbol_once_big_enough(tmp_path: Path) -> None:
    """Groups of 8 rows, cut where a symbol ends once they hold 2 or more: a big symbol's
    groups hold only its rows; small symbols share one."""
    names = ["C"] * 25 + ["A"] * 10 + [None] * 2 + ["B"] * 5 + ["D"] * 1 + ["E"] * 1
    table = pa.table({"symbol": pa.array(names, pa.string()), "n": range(len(names))})
    groups: list[pa.Table] = []
    for run_bytes in (1 << 30, 1):  # in memory, then spilled after every table
        groups = []
        sorter = symbol_runs.SymbolSorter(table.schema, groups.append, 8, tmp_path, run_bytes)
        for start in range(0, len(names), 6):
            sorter.add(table.slice(start, 6))
        sorter.finish()
        got = [group["symbol"].to_pylist() for group in groups]
        assert [len(group) for group in got] == [8, 2, 5, 8, 8, 8, 2, 3]
        assert got[:3] == [["A"] * 8, ["A"] * 2, ["B"] * 5]
        assert got[-2:] == [["C", "D"], ["E", None, None]]
        # each symbol's rows in arrival order
        rows = pa.concat_tables(groups)
        for name in set(names):
            mine = rows.filter(
                pc.is_null(rows["symbol"]) if name is None else pc.equal(rows["symbol"], name)
            )
            want = [i for i, n in enumerate(names) if n == name]
            assert mine["n"].to_pylist() == want
