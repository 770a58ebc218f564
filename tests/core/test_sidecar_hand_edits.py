"""Hand-edited sidecars are treated as absent: the file is verified (or converted) again and
gets a fresh sidecar; nothing is bought twice and no run fails because of them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from multigate.exit_codes import ExitCode
from multigate.storage.layout import sidecar_path
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import engine_outputs, paid_databento_yaml
from tests.fakes.databento_server import FakeDatabentoServer


def edit(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def apply(sidecar: Path) -> None:
        record = json.loads(sidecar.read_text())
        result = change(record)
        sidecar.write_text(json.dumps(record if result is None else result))

    return apply


def _zoneless(record: dict[str, Any]) -> None:
    """``2024-01-03T10:00:00+00:00`` -> ``2024-01-03T10:00:00`` (the one each sidecar has)."""
    holder = record["extra"] if "fetched_at" in record["extra"] else record
    key = "fetched_at" if holder is not record else "created_at"
    holder[key] = holder[key][:19]


EDITS: dict[str, Callable[[Path], None]] = {
    "extra as a list": edit(lambda r: r.update(extra=["fetched_at"])),
    "zone-less times": edit(lambda r: _zoneless(r)),
    "fetched_at a number": edit(lambda r: r["extra"].update(fetched_at=20240103)),
    "file as a list": edit(lambda r: r.update(file=[r["file"]])),
    "bytes as text": edit(lambda r: r["file"].update(bytes=str(r["file"]["bytes"]))),
    "rows as text": edit(lambda r: r.update(rows="50")),
    "zone-less created_at": edit(lambda r: r.update(created_at="2024-01-03T00:00:00")),
    "a JSON list": edit(lambda r: [r]),
    "JSON null": lambda sidecar: sidecar.write_text("null"),
    "not JSON": lambda sidecar: sidecar.write_bytes(b"\xff{not json"),
}


@pytest.fixture
def server(databento_server) -> FakeDatabentoServer:
    return databento_server(symbols=("AAPL",), records_per_day=50, usd_per_record=0.001)


def job_yaml(server: FakeDatabentoServer) -> str:
    """One paid chunk (AAPL, 2024-01-02), one attempt."""
    return paid_databento_yaml(
        server.gateway,
        symbols=["AAPL"],
        end="2024-01-02",
        http={"max_attempts": 1, "backoff_seconds": 0},
        rails={"require_confirm": False, "max_cost_usd": 1.0},
    )


@pytest.mark.parametrize("name", sorted(EDITS))
def test_hand_edited_sidecar_is_reverified_never_bought_again(
    tmp_path, write_config, run_cli, server, name
):
    config = write_config(job_yaml(server))
    assert run_cli("--config", config).code == ExitCode.OK
    assert server.calls["get_range"] == 1
    (chunk,) = (tmp_path / "data/raw/databento").rglob("*.dbn.zst")
    (output,) = engine_outputs(tmp_path / "data/ingested/databento/trades", recursive=True)

    for path in (chunk, output):
        EDITS[name](sidecar_path(path))
        assert read_sidecar(path) is None  # treated as absent

    for _ in range(2):  # not a failure on every run: the first repairs it
        result = run_cli("--config", config)
        assert result.code == ExitCode.OK, result.err
        assert "Traceback" not in result.err
    assert server.calls["get_range"] == 1  # verified from disk, not bought again
    for path in (chunk, output):
        record = read_sidecar(path)
        assert record is not None and record["file"]["sha256"] == sha256_of(path)
