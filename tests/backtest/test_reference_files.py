"""Databento reference JSON-lines files that are not what they claim fail by name, with
no traceback, and leave no output behind."""

from __future__ import annotations

import pytest
import zstandard

from multigate.exit_codes import ExitCode

CONFIG = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - {name: factors, mode: offline, raw_dir: inputs, schema: adjustment-factors}
"""


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("binary.jsonl", b"\x00\x01\xb5\xff DBN", "not JSON lines (byte 2 is not UTF-8 text)"),
        ("bad.jsonl", b'{"event_id": 1}\n{"event_id": \n', "bad.jsonl line 2: not JSON"),
        ("list.jsonl", b"[1, 2]\n", "list.jsonl line 1: not a JSON object"),
        ("broken.jsonl.zst", zstandard.ZstdCompressor().compress(b"{}\n")[:-3], "cannot read"),
        ("date.jsonl", b'{"ex_date": "13/02/2007"}\n', "field 'ex_date'"),
    ],
)
def test_a_bad_reference_file_fails_by_name(tmp_path, write_config, run_cli, name, body, message):
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / name).write_bytes(body)
    result = run_cli("--config", write_config(CONFIG))
    assert result.code == ExitCode.JOB_FAILED
    assert message in result.err + result.out
    assert "Traceback" not in result.err
    assert not list((tmp_path / "data").rglob("*.parquet"))


def test_an_empty_folder_is_a_clear_config_error(tmp_path, write_config, run_cli):
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "factors.dbn.zst").write_bytes(b"")  # not a reference file
    result = run_cli("--config", write_config(CONFIG))
    assert result.code == ExitCode.CONFIG_ERROR
    assert ".jsonl or .jsonl.zst files" in result.err
