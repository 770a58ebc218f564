"""A paid chunk whose sidecar disagrees with its bytes: the bytes are checked (decoded in
full, the header must answer the chunk's request) before any money is spent. Bytes that
decode are kept and their sidecar re-recorded; only a chunk that is truly broken is bought
again; both are said in the run's output. The real databento.Historical client against the
local fake vendor, which counts every billable call."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import databento
import pytest

from multigate.exit_codes import ExitCode
from multigate.storage.provenance import sidecar_path
from tests.fakes.databento_server import FakeDatabentoServer, point_client_at

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")

KEY = "db-test-key-0123456789"
CONFIG = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: api
    base_url: {gateway}
    http: {{max_attempts: 2, backoff_seconds: 0}}
    jobs:
      - name: trades
        mode: api
        dataset: XNAS.ITCH
        schema: trades
        symbols: [AAPL]
        start: 2024-01-02
        end: 2024-01-03
        require_confirm: false
        max_cost_usd: 10
"""


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatabentoServer]:
    with FakeDatabentoServer(key=KEY, symbols=("AAPL",), records_per_day=20) as fake:
        point_client_at(fake, monkeypatch)
        yield fake


def first_run(tmp_path: Path, write_config, run_cli, server) -> tuple[Path, list[Path]]:
    config = write_config(CONFIG.format(gateway=server.gateway))
    result = run_cli("--config", config, "--workers", "1")
    assert result.code == ExitCode.OK, result.err
    chunks = sorted((tmp_path / "data/raw/databento").rglob("*.dbn.zst"))
    assert len(chunks) == 2 and server.calls["get_range"] == 2
    return config, chunks


def recorded_sha256(chunk: Path) -> str:
    return json.loads(sidecar_path(chunk).read_text())["file"]["sha256"]


def edit_sha256(chunk: Path, value: str) -> None:
    sidecar = sidecar_path(chunk)
    record = json.loads(sidecar.read_text())
    record["file"]["sha256"] = value
    sidecar.write_text(json.dumps(record, indent=2))


def test_a_wrong_sidecar_sha256_on_good_bytes_is_re_recorded_not_bought_again(
    tmp_path, write_config, run_cli, server
):
    config, chunks = first_run(tmp_path, write_config, run_cli, server)
    chunk = chunks[0]
    good = chunk.read_bytes()
    edit_sha256(chunk, "0" * 64)  # hand-edited
    plan = run_cli("--config", config, "--dry-run")

    result = run_cli("--config", config, "--workers", "1")

    assert result.code == ExitCode.OK, result.err
    assert server.calls["get_range"] == 2  # money first: no paid call
    assert plan.code == ExitCode.OK, plan.err
    assert "1 chunk(s) do not match the sha256 their sidecar records" in plan.out + plan.err
    assert chunk.read_bytes() == good
    assert recorded_sha256(chunk) == hashlib.sha256(good).hexdigest()
    said = result.out + result.err
    assert "sha256" in said and "re-recorded" in said and chunk.name in said
    assert len(databento.DBNStore.from_file(chunk).to_df()) == 20  # the vendor's own decoder

    again = run_cli("--config", config, "--dry-run")  # the repair holds
    assert again.code == ExitCode.OK, again.err
    assert "2 of 2 chunks already stored" in again.out + again.err


def test_a_chunk_whose_bytes_are_broken_is_bought_again_and_said(
    tmp_path, write_config, run_cli, server
):
    config, chunks = first_run(tmp_path, write_config, run_cli, server)
    chunk = chunks[1]
    good = chunk.read_bytes()
    chunk.write_bytes(good[: len(good) // 2])  # cut: its recorded sha256 no longer matches

    result = run_cli("--config", config, "--workers", "1")

    assert result.code == ExitCode.OK, result.err
    assert server.calls["get_range"] == 3  # exactly the broken chunk, once
    assert chunk.read_bytes() == good
    assert recorded_sha256(chunk) == hashlib.sha256(good).hexdigest()
    said = result.out + result.err
    assert chunk.name in said and "bought again" in said
