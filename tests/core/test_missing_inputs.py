"""A `path:` or `raw_dir:` that finds no input is a config error found in preflight: exit 2
naming the file, line and key, before any job runs, for the real run and the dry run alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from multigate.exit_codes import ExitCode
from multigate.sample.vix import write_vix_samples
from multigate.sources.local_inputs import find_path_inputs, glob_base

GOOD_AND_BAD = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: good
        mode: offline
        path: samples/*_History.csv
      - name: bad
        mode: offline
        {key}: {value}
  {source}
"""
DATABENTO = """databento:
    enabled: true
    mode: offline
    jobs:
      - name: bad
        mode: offline
        {key}: {value}"""
ALPACA = """alpaca:
    enabled: true
    mode: offline
    jobs:
      - name: bad
        mode: offline
        timeframe: 1Min
        {key}: {value}"""


def config_text(source: str, key: str, value: str) -> str:
    if source == "vix":
        return GOOD_AND_BAD.format(key=key, value=value, source="")
    block = (DATABENTO if source == "databento" else ALPACA).format(key=key, value=value)
    text = GOOD_AND_BAD.replace(
        "      - name: bad\n        mode: offline\n        {key}: {value}\n", ""
    )
    return text.format(source=block)


def line_of(text: str, needle: str) -> int:
    (number,) = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == needle]
    return number


CASES = [
    ("vix", "path", "nowhere/VIX_History.csv", "does not exist"),
    ("vix", "path", "nowhere/*.csv", "does not exist"),
    ("vix", "path", "samples/*.nothing", "matches no CSV file"),
    ("vix", "path", "samples", "is a folder; give a file or a glob"),
    ("databento", "raw_dir", "nowhere", "does not exist"),
    ("databento", "raw_dir", "samples", "no .dbn or .dbn.zst files in 'samples'"),
    ("databento", "path", "nowhere/x.dbn.zst", "does not exist"),
    ("alpaca", "path", "nowhere/*.json.gz", "does not exist"),
]


@pytest.mark.parametrize(("source", "key", "value", "words"), CASES)
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_missing_inputs_are_config_errors_naming_file_line_and_key(
    tmp_path: Path, write_config, run_cli, source, key, value, words, dry_run
):
    write_vix_samples(tmp_path / "samples")
    text = config_text(source, key, value)
    config = write_config(text)
    result = run_cli("--config", config, *(["--dry-run"] if dry_run else []))
    assert result.code == ExitCode.CONFIG_ERROR, result.out + result.err
    where = f"{config}:{line_of(text, f'{key}: {value}')}: sources.{source}.jobs["
    assert where in result.err
    assert f"].{key} (job 'bad'): " in result.err and words in result.err
    assert "no .dbn files" not in result.err and "Traceback" not in result.err
    assert not (tmp_path / "data").exists()  # the good job did not run either


def test_path_inputs_are_found_alike_for_every_source(tmp_path: Path) -> None:
    """One finder for `path:`: `**` reaches any depth; the base is the glob's folder
    before its first wildcard, or a plain file's own folder (suffix or not)."""
    for name in ("a.csv", "x/b.csv", "x/y/z/c.csv", "v1.0/d.csv", "x/plain"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = find_path_inputs(tmp_path / "**/*.csv")
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.csv",
        "v1.0/d.csv",
        "x/b.csv",
        "x/y/z/c.csv",
    ]
    assert glob_base(tmp_path / "x/**/*.csv") == tmp_path / "x"
    assert glob_base(tmp_path / "v1.0/*.csv") == tmp_path / "v1.0"
    assert glob_base(tmp_path / "x/plain") == tmp_path / "x"
    assert glob_base(tmp_path / "a.csv") == tmp_path
