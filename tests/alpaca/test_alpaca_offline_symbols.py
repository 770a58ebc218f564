"""Symbols read from offline bar files: a ticker spelt like a missing value (``NA``) is a
ticker; one that cannot name a file fails the job by file and symbol, never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from multigate.exit_codes import ExitCode
from tests.conftest import engine_outputs

HEADER = "timestamp,open,high,low,close,volume,symbol\n"


def bars_csv(folder: Path, name: str, symbols: list[str]) -> Path:
    rows = "".join(
        f"2024-01-02T14:{30 + i:02d}:00Z,1,2,0.5,1.5,100,{symbol}\n"
        for i, symbol in enumerate(symbols)
    )
    path = folder / name
    path.write_text(HEADER + rows)
    return path


def config_for(write_config, path: Path) -> Path:
    return write_config(
        f"""\
        sources:
          alpaca:
            enabled: true
            mode: offline
            jobs:
              - name: bars
                mode: offline
                path: {path.name}
                timeframe: 1Min
        """
    )


def test_na_and_nan_in_a_symbol_column_are_tickers(tmp_path, write_config, run_cli):
    bars_csv(tmp_path, "bars.csv", ["NA", "nan", "AAPL"])
    result = run_cli("--config", config_for(write_config, tmp_path / "bars.csv"))
    assert result.code == ExitCode.OK, result.err
    outputs = sorted(
        engine_outputs(tmp_path / "data" / "ingested" / "alpaca" / "bars", recursive=True)
    )
    assert sorted(p.stem for p in outputs) == ["AAPL", "NA", "nan"]
    for output in outputs:
        assert pq.read_table(output).column("symbol").to_pylist() == [output.stem]


def test_missing_words_still_mean_missing_in_number_columns(tmp_path, write_config, run_cli):
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "2024-01-02T14:30:00Z,1,2,0.5,1.5,NA,NA\n")
    result = run_cli("--config", config_for(write_config, path))
    assert result.code == ExitCode.OK, result.err
    (output,) = engine_outputs(tmp_path / "data" / "ingested", recursive=True)
    table = pq.read_table(output)
    assert table.column("symbol").to_pylist() == ["NA"]
    assert table.column("volume").to_pylist() == [None]


@pytest.mark.parametrize(
    ("symbol", "words"),
    [
        ("..", "is not allowed as a path component"),
        (".", "is not allowed as a path component"),
        ("\x01X", "contains control characters"),
        ("A\x7fB", "contains control characters"),
    ],
)
def test_unusable_symbol_in_a_file_fails_by_name(tmp_path, write_config, run_cli, symbol, words):
    path = bars_csv(tmp_path, "bars.csv", [symbol])
    result = run_cli("--config", config_for(write_config, path))
    assert result.code == ExitCode.JOB_FAILED
    assert "Traceback" not in result.err and "unexpected" not in result.err
    assert f"{path}: symbol {symbol!r} {words}" in result.err


def _plan_lines(text: str, label: str) -> list[str]:
    """The outputs a dry run lists under ``label``; a line longer than the console is
    folded onto the next one (a test worker's tmp_path is long), so lines are joined."""
    return re.findall(rf"(?:^|  ){label} +(/\S*?\.parquet)", "".join(text.splitlines()))


def test_dry_run_tells_current_outputs_apart(tmp_path, write_config, run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one plan line per output, however long its path
    path = bars_csv(tmp_path, "bars.csv", ["AAPL", "MSFT"])
    config = config_for(write_config, path)
    folder = tmp_path / "data" / "ingested" / "alpaca" / "bars"
    before = run_cli("--config", config, "--dry-run")
    assert before.code == ExitCode.OK, before.err
    assert _plan_lines(before.out, "current") == []
    assert run_cli("--config", config).code == ExitCode.OK
    outputs = sorted(str(p) for p in engine_outputs(folder, recursive=True))
    assert [Path(p).stem for p in outputs] == ["AAPL", "MSFT"]
    assert sorted(_plan_lines(before.out, "write")) == outputs  # the files the run wrote

    again = run_cli("--config", config, "--dry-run")
    assert again.code == ExitCode.OK, again.err
    assert sorted(_plan_lines(again.out, "current")) == outputs
    assert _plan_lines(again.out, "write") == []

    bars_csv(tmp_path, "bars.csv", ["AAPL", "MSFT", "NVDA"])  # new input: all outputs change
    changed = run_cli("--config", config, "--dry-run")
    assert _plan_lines(changed.out, "current") == []
    written = _plan_lines(changed.out, "write")
    assert sorted(Path(p).stem for p in written) == ["AAPL", "MSFT", "NVDA"]
    assert sorted(p for p in written if not p.endswith("NVDA.parquet")) == outputs
