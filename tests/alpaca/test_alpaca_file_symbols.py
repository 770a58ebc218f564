"""Finding an offline file's symbols (for one convert task per symbol) reads a CSV's or
Parquet file's symbol column alone, and agrees with reading the whole file."""

from __future__ import annotations

from pathlib import Path

import pytest

from multigate.sample.alpaca import write_alpaca_samples
from multigate.sources.alpaca.bars_read import bars_file_symbols, read_bars_file

HEADER = "timestamp,open,high,low,close,volume,symbol\n"


def whole_read_symbols(path: Path, symbol: str | None = None) -> list[str]:
    return sorted(set(read_bars_file(path, symbol)["symbol"].to_pylist()))


def test_symbols_agree_with_the_whole_read_for_every_sample_format(tmp_path):
    files = write_alpaca_samples(tmp_path)
    for path in files:
        fill = "AAPL" if path.suffix == ".csv" else None  # the sample CSV has no symbol column
        assert bars_file_symbols(path, fill) == whole_read_symbols(path, fill)
    assert bars_file_symbols(files[0]) == ["MSFT", "SPY"]


def test_a_csv_is_read_for_its_symbol_column_only(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "2024-01-02T14:30:00Z,1,2,0.5,x,100,NA\n")
    assert bars_file_symbols(path) == ["NA"]  # a ticker, not a missing value
    with pytest.raises(ValueError, match="column 'close' is not numeric"):
        read_bars_file(path)  # the bad close is found when the file is converted


def test_refusals_match_the_whole_read(tmp_path):
    two = tmp_path / "two.csv"
    two.write_text(
        HEADER
        + "2024-01-02T14:30:00Z,1,2,0.5,1.5,100,AAPL\n"
        + "2024-01-02T14:30:00Z,1,2,0.5,1.5,100,MSFT\n"
    )
    with pytest.raises(ValueError, match="symbol='AAPL' given but the file holds"):
        bars_file_symbols(two, "AAPL")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "2024-01-02T14:30:00Z,1,2,0.5,1.5,100,..\n")
    with pytest.raises(ValueError) as found:
        bars_file_symbols(bad)
    with pytest.raises(ValueError) as whole:
        read_bars_file(bad)
    assert str(found.value) == str(whole.value)
    empty_cell = tmp_path / "gap.csv"  # read whole: it reports the empty symbol itself
    empty_cell.write_text(HEADER + "2024-01-02T14:30:00Z,1,2,0.5,1.5,100,\n")
    with pytest.raises(ValueError) as whole:
        read_bars_file(empty_cell)
    with pytest.raises(ValueError) as found:
        bars_file_symbols(empty_cell)
    assert str(found.value) == str(whole.value)
