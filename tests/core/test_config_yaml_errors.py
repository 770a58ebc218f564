"""Malformed YAML is a config error naming file and line (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from multigate.exit_codes import ExitCode

BASE = b"""\
data_dir: data
sources:
  vix:
    enabled: true
    mode: api
    http:
      timeout_seconds: 30
    jobs:
      - name: daily
        mode: api
        symbols: [VIX]
"""


def edited(old: bytes, new: bytes) -> bytes:
    assert old in BASE
    return BASE.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (edited(b"[VIX]", b"[V\xffIX]"), 11, "not UTF-8"),
        (edited(b"[VIX]", b"[V\x01IX]"), 11, "U+0001 is not allowed"),
        (edited(b"data_dir: data", b"[a]: x"), 1, "key must be a plain name"),
        (edited(b"  vix:", b"  1:"), 3, "key '1' is read as int 1"),
        (edited(b"data_dir: data", b"true: x"), 1, "key 'true' is read as bool True"),
        (b"data_dir: " + b"[" * 5000 + b"]" * 5000 + b"\n", 1, "nested more than 64"),
        (b"data_dir: " + b"{a: " * 5000 + b"1" + b"}" * 5000 + b"\n", 1, "nested more than"),
        (
            edited(b"symbols: [VIX]", b"symbols: [VIX]\n        end: 9999-12-31"),
            12,
            "sources.vix.jobs[0].end (job 'daily'): 9999-12-31 is outside the supported range",
        ),
        (
            edited(b"timeout_seconds: 30", b"timeout_seconds: .inf"),
            7,
            "sources.vix.http.timeout_seconds: Input should be a finite number",
        ),
        (
            edited(b"timeout_seconds: 30", b"timeout_seconds: .nan"),
            7,
            "sources.vix.http.timeout_seconds: Input should be a finite number",
        ),
        (
            edited(b"symbols: [VIX]", b"symbols: [ON, NO]"),
            11,
            "sources.vix.jobs[0].symbols[0] (job 'daily'): ON is read as the boolean true",
        ),
        (edited(b"- name: daily", b"- name: off"), 9, "quote it: 'off'"),
        (
            edited(b"    mode: api\n", b"    mode: api\n    base_url: 127.0.0.1:8080\n"),
            6,
            "sources.vix.base_url: '127.0.0.1:8080' is not a usable URL: it must start with",
        ),
        (
            edited(b"    mode: api\n", b"    mode: api\n    base_url: 'http://['\n"),
            6,
            "'http://[' is not a usable URL: Invalid IPv6 URL",
        ),
        (
            edited(b"    mode: api\n", b"    mode: api\n    base_url: http://h:99999\n"),
            6,
            "'http://h:99999' is not a usable URL: Port out of range",
        ),
    ],
)
def test_bad_yaml_is_a_config_error_with_file_and_line(
    tmp_path: Path, run_cli, text: bytes, line: int, words: str
):
    path = tmp_path / "ingest.yaml"
    path.write_bytes(text)
    result = run_cli("--config", path, "--dry-run")
    assert result.code == ExitCode.CONFIG_ERROR, result.err
    assert "Traceback" not in result.err
    assert f"{path}:{line}:" in result.err
    assert words in result.err


def test_dates_out_of_range_are_refused_for_every_vendor(tmp_path: Path, run_cli):
    path = tmp_path / "ingest.yaml"
    path.write_text(
        """\
sources:
  alpaca:
    enabled: true
    mode: api
    jobs:
      - name: bars
        mode: api
        symbols: [AAPL]
        timeframe: 1Day
        start: 0001-01-01
        end: 9999-12-31T23:59:59Z
  databento:
    enabled: true
    mode: api
    jobs:
      - name: trades
        mode: api
        dataset: XNAS.ITCH
        schema: trades
        symbols: [AAPL]
        start: 2024-01-01
        end: 9999-12-31
"""
    )
    result = run_cli("--config", path, "--dry-run")
    assert result.code == ExitCode.CONFIG_ERROR, result.err
    assert "Traceback" not in result.err
    for line, key in [(10, "alpaca.jobs[0].start"), (11, "alpaca.jobs[0].end")]:
        assert f"{path}:{line}: sources.{key}" in result.err
    assert f"{path}:22: sources.databento.jobs[0].end" in result.err


def test_merge_keys_work_and_explicit_keys_override_them(write_config):
    from multigate.config.loader import load_config

    loaded = load_config(
        write_config(
            """\
            sources:
              vix: &defaults
                enabled: true
                mode: offline
              alpaca:
                <<: *defaults
                mode: api
            """
        )
    )
    alpaca = loaded.config.sources["alpaca"]
    assert (alpaca.enabled, alpaca.mode) == (True, "api")
