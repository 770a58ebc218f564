"""Outputs sorted by symbol in bounded memory: a file sorted through spilled runs is the
same bytes as one sorted in memory, and holds the vendor's rows symbol by symbol."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
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
    spills = _Spills(monkeypatch)
    (memory,) = convert_dbn_file(src, lambda s: tmp_path / f"memory.{s}.parquet")
    assert spills.runs == 0
    monkeypatch.setattr(symbol_runs, "RUN_BYTES", 150_000)  # a run every few chunks
    (spilled,) = convert_dbn_file(src, lambda s: tmp_path / f"spilled.{s}.parquet")
    assert spills.runs >= 3
    assert spilled.path.read_bytes() == memory.path.read_bytes()
    assert_matches_vendor(read_parquet_df(spilled.path), vendor_reference(src))
    assert list(tmp_path.glob(".multigate-sort-*")) == []


def test_row_groups_cut_across_symbols(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups hold exactly row_group_size rows whatever the symbols' and runs' sizes."""
    src = tmp_path / "g.trades.dbn"
    write_synthetic_file(src, "trades", records=10_000, n_instruments=7)
    monkeypatch.setattr(symbol_runs, "RUN_BYTES", 100_000)
    (out,) = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet", row_group_size=3_000)
    meta = pq.ParquetFile(out.path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [3_000, 3_000, 3_000, 1_000]
    symbols = pq.read_table(out.path, columns=["symbol"])["symbol"].to_pylist()
    assert symbols == sorted(symbols)
