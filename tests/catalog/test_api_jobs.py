"""The catalog over an API job's outputs: a VIX job downloading from the local CBOE
stand-in, re-run after CBOE revised its history."""

from __future__ import annotations

from multigate import Catalog
from multigate.exit_codes import ExitCode
from tests.catalog.helpers import assert_same_rows, reference, stored_files
from tests.fakes.cboe_server import CboeServer, running_cboe_server
from tests.vix.helpers import cboe_bytes

CONFIG = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: api
    base_url: {url}
    http: {{max_attempts: 2, backoff_seconds: 0, timeout_seconds: 5}}
    jobs:
      - name: daily
        mode: api
        symbols: [VIX, VIX3M]
"""


def test_an_api_job_reads_back_and_keeps_the_pre_revision_rows(tmp_path, write_config, run_cli):
    server = CboeServer(files={"VIX": cboe_bytes(), "VIX3M": cboe_bytes(seed=7)})
    data_dir = tmp_path / "data"
    with running_cboe_server(server):
        config = write_config(CONFIG.format(url=server.url))
        assert run_cli("--config", config).code == ExitCode.OK
        old = reference(stored_files(data_dir, "vix/daily"), "date")
        server.files["VIX"] = cboe_bytes(seed=3)  # CBOE revised the VIX history
        assert run_cli("--config", config).code == ExitCode.OK

    catalog = Catalog.from_config(config)
    first, second = catalog.snapshots("vix/daily")
    assert second.datasets == ("vix/daily",)
    assert_same_rows(
        catalog.read("vix/daily"), reference(stored_files(data_dir, "vix/daily"), "date")
    )
    assert_same_rows(catalog.read("vix/daily", as_of=first.id), old)
    vix_then = catalog.read("vix/daily", symbols="VIX", as_of=first.created_at)
    assert_same_rows(vix_then, old[old.symbol == "VIX"])
    assert not catalog.read("vix/daily", symbols="VIX").equals(vix_then)
