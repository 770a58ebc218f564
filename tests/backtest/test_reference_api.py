"""Databento reference API jobs: the real databento.Reference client against the local fake
server. The answer is stored as received and never requested again; require_confirm asks
before the request (there is no quote); the ledger records the request; the dataset it
makes equals what the vendor's own client decodes from the same bytes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from multigate import Catalog
from multigate.backtest import applied_adjustments
from multigate.exit_codes import ExitCode
from multigate.storage.ledger import read_ledger
from tests.backtest.test_adjust import EVENTS
from tests.fakes.databento_server import FakeDatabentoServer, point_client_at

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
      - name: factors
        mode: api
        schema: adjustment-factors
        symbols: [SYM1, SYM2]
        start: 2023-11-01
        end: 2023-11-30
        require_confirm: {confirm}
"""


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatabentoServer]:
    with FakeDatabentoServer(key=KEY) as fake:
        fake.reference["adjustment_factors"] = EVENTS
        point_client_at(fake, monkeypatch)
        yield fake


def test_a_reference_job_requests_once_and_stores_what_it_received(
    tmp_path, write_config, run_cli, server
):
    config = write_config(CONFIG.format(gateway=server.gateway, confirm="false"))
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    assert server.calls["adjustment_factors"] == 1
    ((_, form),) = [r for r in server.requests if r[0] == "adjustment_factors"]
    assert form["symbols"] == "SYM1,SYM2" and form["start"].startswith("2023-11-01")
    (raw,) = (tmp_path / "data/raw/databento/reference").rglob("*.jsonl.zst")
    catalog = Catalog.open(tmp_path / "data")
    table = catalog.read("databento/factors")
    # the vendor's own decoding of the stored bytes (what Reference.get_range returns)
    from databento.common.parsing import convert_jsonl_to_df

    want = convert_jsonl_to_df(raw.read_bytes(), compressed=True)
    assert len(want) == table.num_rows == 5  # the SYM1 and SYM2 rows in November
    got = table.to_pandas().sort_values(["event_id", "currency"]).reset_index(drop=True)
    want = want.sort_values(["event_id", "currency"]).reset_index(drop=True)
    for column in ("event_id", "event", "status", "symbol", "currency"):
        assert got[column].tolist() == want[column].tolist(), column
    assert got["factor"].tolist() == want["factor"].tolist()
    assert [str(d) for d in got["ex_date"]] == [str(d)[:10] for d in want["ex_date"]]
    events = [r for r in read_ledger(tmp_path / "data/raw/databento/ledger.jsonl")]
    assert [e["event"] for e in events] == ["reference_request", "download"]
    assert events[1]["bytes"] == raw.stat().st_size

    again = run_cli("--config", config)
    assert again.code == ExitCode.OK
    assert server.calls["adjustment_factors"] == 1  # stored: never requested again
    assert len(read_ledger(tmp_path / "data/raw/databento/ledger.jsonl")) == 2


def test_require_confirm_refuses_without_a_terminal_and_yes_accepts(
    tmp_path, write_config, run_cli, server
):
    config = write_config(CONFIG.format(gateway=server.gateway, confirm="true"))
    refused = run_cli("--config", config)
    assert refused.code == ExitCode.GUARDRAIL_REFUSED
    assert "--yes" in refused.err and "no quote" in refused.err
    assert server.calls["adjustment_factors"] == 0
    accepted = run_cli("--config", config, "--yes")
    assert accepted.code == ExitCode.OK, accepted.err
    assert server.calls["adjustment_factors"] == 1


def test_the_requested_factors_adjust_on_read(tmp_path, write_config, run_cli, server):
    from tests.backtest.helpers import minute_times, write_records

    (tmp_path / "inputs").mkdir()
    bars = {1: minute_times(5, 0.2, seed=1)}
    write_records(tmp_path / "inputs/bars.ohlcv-1m.dbn.zst", "ohlcv-1m", bars, seed=2)
    api = CONFIG.format(gateway=server.gateway, confirm="false")
    offline = api.replace("    mode: api\n    base_url", "    mode: offline\n    base_url")
    offline += "      - {name: bars, mode: offline, path: inputs/*.dbn.zst}\n"
    assert run_cli("--config", write_config(offline)).code == ExitCode.OK  # the bars
    assert run_cli("--config", write_config(api)).code == ExitCode.OK  # the factors
    catalog = Catalog.open(tmp_path / "data")
    raw = catalog.read("databento/bars").to_pandas()
    got = catalog.read("databento/bars", adjust="splits", adjustments="databento/factors")
    before = (raw["ts_event"] < pd.Timestamp("2023-11-15", tz="UTC")).to_numpy()
    want = raw["close"].to_numpy() * np.where(before, 0.5, 1.0)
    np.testing.assert_allclose(got["close"].to_numpy(), want, rtol=1e-12)
    assert [e["event_id"] for e in applied_adjustments(got)] == ["E-1"]
