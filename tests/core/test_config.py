"""Config errors name the file, the line and the key, and nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from multigate.config.loader import load_config
from multigate.errors import ConfigError
from multigate.exit_codes import ExitCode

VALID = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: local
        mode: offline
        path: files/*.csv
      - name: daily
        mode: api
        symbols: [VIX, VIX3M]
        start: 2004-01-01
"""


def config_error(write_config, text: str) -> str:
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_valid_config_parses_into_typed_models(write_config):
    loaded = load_config(write_config(VALID))
    vix = loaded.config.sources["vix"]
    assert vix.enabled is True and vix.mode == "offline"
    assert [job.name for job in vix.jobs] == ["local", "daily"]
    assert vix.jobs[1].symbols == ["VIX", "VIX3M"]
    assert str(vix.jobs[1].start) == "2004-01-01"
    assert loaded.data_dir == loaded.path.parent / "data"


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [
        (
            "        symbols: [VIX, VIX3M]",
            "        symbolz: [VIX]",
            12,
            "sources.vix.jobs[1].symbolz",
            "unknown key",
        ),
        ("    enabled: true", "    enabeld: true", 4, "sources.vix.enabeld", "unknown key"),
        ("data_dir: data", "data_dir: data\nmax_cost_usb: 3", 2, "max_cost_usb", "unknown key"),
        ("    enabled: true", '    enabled: "true"', 4, "sources.vix.enabled", "boolean"),
        (
            "        start: 2004-01-01",
            "        start: 2004-13-45",
            13,
            "sources.vix.jobs[1].start",
            "date",
        ),
        (
            "        start: 2004-01-01",
            "        start: 2004-01-01\n        end: 2003-01-01",
            10,
            "sources.vix.jobs[1]",
            "after end",
        ),
        (
            "      - name: local",
            "      - name: ../escape",
            7,
            "sources.vix.jobs[0].name",
            "not a safe name",
        ),
        (
            "        symbols: [VIX, VIX3M]",
            "        symbols: [VIX, ../etc]",
            12,
            "sources.vix.jobs[1].symbols[1]",
            "not a valid symbol",
        ),
        (
            "        mode: api",
            "        mode: apii",
            11,
            "sources.vix.jobs[1].mode",
            "'offline' or 'api'",
        ),
        ("    mode: offline", "    mode: 3", 5, "sources.vix.mode", "offline"),
        ("        path: files/*.csv", "", 7, "sources.vix.jobs[0].path", "missing"),
        (
            "      - name: daily",
            "      - name: local",
            10,
            "sources.vix.jobs[1].name",
            "duplicate job name",
        ),
    ],
)
def test_config_errors_name_file_line_and_key(write_config, old, new, line, key, words):
    assert old in VALID
    message = config_error(write_config, VALID.replace(old, new, 1))
    assert f"ingest.yaml:{line}:" in message
    assert key in message
    assert words in message


def test_duplicate_yaml_key_is_an_error_not_last_one_wins(write_config):
    text = VALID.replace("    enabled: true\n", "    enabled: true\n    enabled: false\n")
    message = config_error(write_config, text)
    assert "ingest.yaml:5:" in message and "duplicate key 'enabled'" in message


def test_unknown_source_lists_the_known_ones(write_config):
    message = config_error(write_config, VALID.replace("  vix:", "  vixx:"))
    assert "ingest.yaml:3:" in message and "unknown source 'vixx'" in message
    assert "vix" in message.split("known:")[1]


def test_invalid_yaml_names_the_line(write_config):
    message = config_error(write_config, VALID.replace("symbols: [VIX, VIX3M]", "symbols: [VIX"))
    assert "ingest.yaml:" in message and "invalid YAML" in message


def test_missing_config_says_to_copy_the_example(tmp_path: Path, run_cli):
    (tmp_path / "example.ingest.yaml").write_text("sources: {}\n")
    result = run_cli("--config", tmp_path / "ingest.yaml")
    assert result.code == ExitCode.CONFIG_ERROR
    assert "cp example.ingest.yaml ingest.yaml" in result.err


def test_config_error_runs_nothing(write_config, tmp_path: Path, run_cli):
    path = write_config(VALID.replace("        symbols: [VIX, VIX3M]", "        symbolz: [VIX]"))
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "VIX_History.csv").write_text("DATE,OPEN,HIGH,LOW,CLOSE\n")
    result = run_cli("--config", path)
    assert result.code == ExitCode.CONFIG_ERROR
    assert "symbolz" in result.err
    assert not (tmp_path / "data").exists()


def test_example_config_is_valid():
    example = Path(__file__).resolve().parents[2] / "example.ingest.yaml"
    loaded = load_config(example)
    assert "vix" in loaded.config.sources


def test_every_problem_is_reported_at_once_with_suggestions(write_config):
    text = VALID.replace("    enabled: true", "    enabeld: true").replace(
        "        symbols: [VIX, VIX3M]", "        symbols: [VIX, VIX3M]\n        strat: 2004-01-01"
    )
    message = config_error(write_config, text)
    assert message.startswith("2 problems in the config")
    assert (
        "ingest.yaml:4: sources.vix.enabeld: unknown key 'enabeld' (did you mean 'enabled'?)"
        in (message)
    )
    assert (
        "sources.vix.jobs[1].strat (job 'daily'): unknown key 'strat' (did you mean 'start'?)"
        in (message)
    )


def test_union_noise_is_dropped_from_symbol_errors(write_config):
    text = """\
sources:
  databento:
    enabled: true
    mode: api
    jobs:
      - name: x
        mode: api
        dataset: XNAS.ITCH
        schema: trades
        symbols: [AAPL, ../x]
        start: 2024-01-02
        end: 2024-01-03
"""
    message = config_error(write_config, text)
    assert message.endswith(
        "ingest.yaml:10: sources.databento.jobs[0].symbols[1] (job 'x'): "
        "'../x' is not a valid symbol"
    )
    assert "ALL_SYMBOLS" not in message
