"""Symbols are compared and stored as each vendor's client sends them: one symbol is bought
once, whatever its spelling in the config."""

from __future__ import annotations

from pathlib import Path

import pytest
from databento.common.parsing import symbols_list_to_list
from databento_dbn import SType

from multigate.config.loader import load_config
from multigate.errors import ConfigError
from multigate.exit_codes import ExitCode

DATABENTO = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: api
    jobs:
      - name: bars
        mode: api
        dataset: XNAS.ITCH
        schema: ohlcv-1d
        stype_in: {stype}
        symbols: {symbols}
        start: 2024-01-02
        end: 2024-01-02
"""

ALPACA = """\
data_dir: data
sources:
  alpaca:
    enabled: true
    mode: api
    jobs:
      - name: bars
        mode: api
        asset_class: {asset_class}
        symbols: {symbols}
        timeframe: 1Day
        start: 2024-01-02
        end: 2024-01-31
"""

VIX = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: api
    jobs:
      - name: daily
        mode: api
        symbols: {symbols}
"""


def job_symbols(write_config, text: str) -> list[str]:
    loaded = load_config(write_config(text))
    (source,) = loaded.config.sources.values()
    return list(source.jobs[0].symbols)


def config_error(write_config, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    return str(caught.value)


@pytest.mark.parametrize(
    ("stype", "symbols"),
    [
        ("raw_symbol", ["aapl", " msft ", "Brk.b"]),
        ("raw_symbol", ["aapl,MSFT", "tsla"]),
        ("raw_symbol", [",nvda,"]),
        ("continuous", ["es.c.0", " NQ.V.1 "]),
        ("parent", ["es.fut", "nq.OPT"]),
        ("instrument_id", ["4916", " 12 "]),
    ],
)
def test_databento_symbols_are_spelt_as_its_client_sends_them(write_config, stype, symbols):
    listed = "[" + ", ".join(f'"{s}"' for s in symbols) + "]"
    got = job_symbols(write_config, DATABENTO.format(stype=stype, symbols=listed))
    assert got == symbols_list_to_list(symbols, SType(stype))  # the vendor's own client


@pytest.mark.parametrize(
    ("symbols", "spellings", "symbol"),
    [
        ('[AAPL, aapl, " AAPL"]', ("'AAPL' and 'aapl'",), "AAPL"),
        ("['aapl,MSFT', MSFT]", ("'aapl,MSFT' and 'MSFT'",), "MSFT"),
        ("['AAPL, AAPL']", ("'AAPL, AAPL' gives",), "AAPL"),
        ("[AAPL, AAPL]", ("'AAPL' is listed twice",), "AAPL"),
    ],
)
def test_databento_duplicates_after_normalisation_are_a_config_error(
    write_config, symbols, spellings, symbol
):
    message = config_error(write_config, DATABENTO.format(stype="raw_symbol", symbols=symbols))
    assert "ingest.yaml:12: sources.databento.jobs[0].symbols (job 'bars'):" in message
    assert f"the symbol '{symbol}'" in message
    for spelling in spellings:
        assert spelling in message


def test_databento_continuous_symbols_fold_case_like_the_client(write_config):
    text = DATABENTO.format(stype="continuous", symbols="[ES.c.0, es.C.0]")
    assert "the symbol 'ES.c.0'" in config_error(write_config, text)
    bad = DATABENTO.format(stype="continuous", symbols="[ES..0]")
    assert "not a smart symbol" in config_error(write_config, bad)


def test_duplicate_spelling_exits_2_and_buys_nothing(write_config, run_cli, tmp_path: Path):
    path = write_config(DATABENTO.format(stype="raw_symbol", symbols='[AAPL, " aapl"]'))
    result = run_cli("--config", path, "--yes")
    assert result.code == ExitCode.CONFIG_ERROR
    assert "ingest.yaml:12:" in result.err and "symbols" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "data").exists()


def test_databento_stores_chunks_under_the_normalised_spelling(write_config, run_cli):
    path = write_config(DATABENTO.format(stype="raw_symbol", symbols='[" aapl "]'))
    result = run_cli("--config", path, "--dry-run")
    assert result.code == ExitCode.OK, result.err
    assert "ohlcv-1d AAPL 2024-01-02" in result.out


def test_alpaca_symbols_are_upper_cased_and_split(write_config):
    text = ALPACA.format(asset_class="stocks", symbols="['aapl, msft', ' brk.b']")
    assert job_symbols(write_config, text) == ["AAPL", "MSFT", "BRK.B"]
    crypto = ALPACA.format(asset_class="crypto", symbols="[btc/usd]")
    assert job_symbols(write_config, crypto) == ["BTC/USD"]


@pytest.mark.parametrize("symbols", ["[AAPL, aapl]", "['MSFT,AAPL', ' aapl ']"])
def test_alpaca_duplicates_after_normalisation_are_a_config_error(write_config, symbols):
    message = config_error(write_config, ALPACA.format(asset_class="stocks", symbols=symbols))
    assert "ingest.yaml:10: sources.alpaca.jobs[0].symbols" in message
    assert "the symbol 'AAPL'" in message


def test_vix_symbols_are_upper_cased_and_duplicates_refused(write_config):
    assert job_symbols(write_config, VIX.format(symbols="[vix, ' vix3m']")) == ["VIX", "VIX3M"]
    message = config_error(write_config, VIX.format(symbols="[VIX, vix]"))
    assert "ingest.yaml:9: sources.vix.jobs[0].symbols" in message
    assert "the symbol 'VIX'" in message


def test_offline_symbols_that_cannot_name_a_file_fail_by_name(write_config):
    jobs = "".join(
        f"      - {{name: j{i}, mode: offline, path: x.csv, timeframe: 1Min, symbol: {value}}}\n"
        for i, value in enumerate(['"."', '".."', '""', '"A\\x01B"', '"A\\x7fB"'])
    )
    text = "sources:\n  alpaca:\n    enabled: true\n    mode: offline\n    jobs:\n" + jobs
    message = config_error(write_config, text)
    assert message.startswith("5 problems in the config")
    for line, shown in [(6, "'.'"), (7, "'..'"), (8, "''"), (9, "'A\\x01B'"), (10, "'A\\x7fB'")]:
        job = f"sources.alpaca.jobs[{line - 6}].symbol (job 'j{line - 6}')"
        assert f"ingest.yaml:{line}: {job}: {shown} is not a valid symbol" in message
