"""VIX API mode end to end against a local CBOE stand-in on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from deltalake import DeltaTable

from multigate.exit_codes import ExitCode
from multigate.storage.delta_tables import is_versioned_name
from multigate.storage.provenance import read_sidecar
from tests.conftest import engine_outputs, snapshot
from tests.fakes.cboe_server import CboeServer, Scripted, running_cboe_server
from tests.vix.helpers import assert_matches_reference, cboe_bytes

CONFIG = """\
data_dir: data
sources:
  vix:
    enabled: true
    mode: api
    base_url: {url}
    http: {{max_attempts: 3, backoff_seconds: 0, timeout_seconds: 5}}
    jobs:
      - name: daily
        mode: api
        symbols: [VIX, VIX3M]
      - name: local
        mode: offline
        path: data/raw/vix/cboe/*_History.csv
"""


@pytest.fixture
def cboe():
    server = CboeServer(files={"VIX": cboe_bytes(), "VIX3M": cboe_bytes(seed=7)})
    with running_cboe_server(server):
        yield server


def api_config(write_config, server: CboeServer) -> Path:
    return write_config(CONFIG.format(url=server.url))


def test_downloads_raw_then_converts(tmp_path, write_config, run_cli, cboe):
    result = run_cli("--config", api_config(write_config, cboe), "--job", "daily")
    assert result.code == ExitCode.OK, result.err
    assert cboe.total_requests == 2
    for symbol in ("VIX", "VIX3M"):
        raw = tmp_path / f"data/raw/vix/cboe/{symbol}_History.csv"
        assert raw.read_bytes() == cboe.files[symbol]  # vendor bytes exactly as received
        sidecar = read_sidecar(raw)
        assert sidecar is not None and sidecar["kind"] == "raw"
        assert sidecar["file"]["sha256"] == hashlib.sha256(cboe.files[symbol]).hexdigest()
        assert sidecar["query"]["url"].endswith(f"/{symbol}_History.csv")
        output = tmp_path / f"data/ingested/vix/daily/{symbol}.parquet"
        assert_matches_reference(output, cboe.files[symbol], symbol)
        out_sidecar = read_sidecar(output)
        assert out_sidecar is not None and out_sidecar["kind"] == "ingested"
        assert out_sidecar["inputs"][0]["sha256"] == sidecar["file"]["sha256"]
        assert out_sidecar["rows"] == 600 and out_sidecar["symbols"] == [symbol]


def test_second_run_changes_no_file(tmp_path, write_config, run_cli, cboe):
    config = api_config(write_config, cboe)
    assert run_cli("--config", config).code == ExitCode.OK
    before = snapshot(tmp_path / "data")
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK
    assert snapshot(tmp_path / "data") == before
    assert "up to date" in result.out


def test_changed_upstream_is_stored_and_reconverted(tmp_path, write_config, run_cli, cboe):
    config = api_config(write_config, cboe)
    assert run_cli("--config", config).code == ExitCode.OK
    cboe.files["VIX"] = cboe_bytes(days=601)
    assert run_cli("--config", config).code == ExitCode.OK
    assert_matches_reference(
        tmp_path / "data/ingested/vix/daily/VIX.parquet", cboe.files["VIX"], "VIX"
    )


def test_server_error_then_success_is_retried(tmp_path, write_config, run_cli, cboe):
    cboe.scripts["VIX"] = [Scripted(status=500, body=b"oops"), Scripted(status=503, body=b"busy")]
    result = run_cli("--config", api_config(write_config, cboe))
    assert result.code == ExitCode.OK, result.err
    vix_requests = sum(n for path, n in cboe.requests.items() if "/VIX_" in path)
    assert vix_requests == 3
    assert "HTTP 500" in result.err and "retry 1/2" in result.err


def test_not_found_names_url_and_status_without_retrying(tmp_path, write_config, run_cli, cboe):
    cboe.scripts["VIX3M"] = [Scripted(status=404, body=b"<html>nope</html>")]
    result = run_cli("--config", api_config(write_config, cboe))
    assert result.code == ExitCode.JOB_FAILED
    assert "VIX3M_History.csv -> HTTP 404" in result.err
    assert sum(n for path, n in cboe.requests.items() if "/VIX3M_" in path) == 1


@pytest.mark.parametrize(
    "bad",
    [
        Scripted(body=b"DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2004,1", truncate_to=None),
        Scripted(body=b"<!DOCTYPE html><html><body>Access Denied</body></html>"),
    ],
    ids=["cut-mid-row", "html-error-page"],
)
def test_bad_body_fails_and_keeps_previous_raw(tmp_path, write_config, run_cli, cboe, bad):
    config = api_config(write_config, cboe)
    assert run_cli("--config", config).code == ExitCode.OK
    raw = tmp_path / "data/raw/vix/cboe/VIX_History.csv"
    before = snapshot(tmp_path / "data")
    cboe.scripts["VIX"] = [bad]
    result = run_cli("--config", config)
    assert result.code == ExitCode.JOB_FAILED
    assert "VIX_History.csv" in result.err
    assert raw.read_bytes() == cboe.files["VIX"]
    assert snapshot(tmp_path / "data") == before


def test_body_shorter_than_content_length_is_retried_never_stored(
    tmp_path, write_config, run_cli, cboe
):
    body = cboe.files["VIX"]
    cboe.scripts["VIX"] = [Scripted(body=body, truncate_to=len(body) // 2)] * 3
    result = run_cli("--config", api_config(write_config, cboe))
    assert result.code == ExitCode.JOB_FAILED
    assert "failed after 3 attempts" in result.err
    assert not (tmp_path / "data/raw/vix/cboe/VIX_History.csv").exists()
    assert not list((tmp_path / "data").rglob("VIX.parquet"))


def test_api_and_offline_give_identical_parquet(tmp_path, write_config, run_cli, cboe):
    config = api_config(write_config, cboe)
    assert run_cli("--config", config, "--job", "daily").code == ExitCode.OK
    offline = config.read_text().replace(
        "    mode: api\n    base_url", "    mode: offline\n    base_url"
    )
    config.write_text(offline)
    assert run_cli("--config", config, "--job", "local").code == ExitCode.OK
    for symbol in ("VIX", "VIX3M"):
        api_out = tmp_path / f"data/ingested/vix/daily/{symbol}.parquet"
        offline_out = tmp_path / f"data/ingested/vix/local/{symbol}.parquet"
        assert api_out.read_bytes() == offline_out.read_bytes()


def test_dry_run_sends_nothing_and_writes_nothing(tmp_path, write_config, run_cli, cboe):
    result = run_cli("--config", api_config(write_config, cboe), "--dry-run")
    assert result.code == ExitCode.OK
    assert cboe.total_requests == 0
    assert not (tmp_path / "data").exists()
    assert "VIX_History.csv" in result.out and "Dry run" in result.out


def test_dropping_a_symbol_removes_its_stale_output(tmp_path, write_config, run_cli, cboe):
    config = api_config(write_config, cboe)
    assert run_cli("--config", config, "--job", "daily").code == ExitCode.OK
    config.write_text(config.read_text().replace("[VIX, VIX3M]", "[VIX]"))
    result = run_cli("--config", config, "--job", "daily")
    assert result.code == ExitCode.OK
    folder = tmp_path / "data/ingested/vix/daily"
    outputs = [p.name for p in folder.iterdir() if p.name.endswith(".parquet")]
    current = [p for p in outputs if not is_versioned_name(p)]
    assert sorted(current) == ["VIX.parquet"]
    assert not (folder / "VIX3M.parquet.source.json").exists()
    assert "removed 1 stale output" in result.out
    # the table's current version holds VIX only; its first version still has VIX3M
    table = DeltaTable(str(folder))
    assert [Path(uri).name.split(".v-")[0] for uri in table.file_uris()] == ["VIX"]
    first = DeltaTable(str(folder), version=0).file_uris()
    assert sorted(Path(uri).name.split(".v-")[0] for uri in first) == ["VIX", "VIX3M"]


def test_pruning_never_touches_files_multigate_did_not_write(tmp_path, write_config, run_cli, cboe):
    config = api_config(write_config, cboe)
    assert run_cli("--config", config, "--job", "daily").code == ExitCode.OK
    mine = tmp_path / "data/ingested/vix/daily/my_notes.parquet"
    mine.write_bytes(b"a user's own file")
    config.write_text(config.read_text().replace("[VIX, VIX3M]", "[VIX]"))
    assert run_cli("--config", config, "--job", "daily").code == ExitCode.OK
    assert mine.read_bytes() == b"a user's own file"
    assert not (tmp_path / "data/ingested/vix/daily/VIX3M.parquet").exists()


def test_a_run_sweeps_temp_files_left_anywhere_by_a_killed_run(
    tmp_path, write_config, run_cli, cboe
):
    config = api_config(write_config, cboe)
    assert run_cli("--config", config, "--job", "daily").code == ExitCode.OK
    orphan = tmp_path / "data/raw/vix/old/.gone_History.csv.tmp-999999999-dead"  # no such pid
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"half a download of something no job asks for any more")
    assert run_cli("--config", config, "--job", "daily").code == ExitCode.OK
    assert not orphan.exists()


def test_a_failed_download_publishes_no_output_of_the_job(tmp_path, write_config, run_cli, cboe):
    cboe.scripts["VIX3M"] = [Scripted(status=404, body=b"<html>nope</html>")]
    result = run_cli("--config", api_config(write_config, cboe), "--job", "daily")
    assert result.code == ExitCode.JOB_FAILED
    assert (tmp_path / "data/raw/vix/cboe/VIX_History.csv").read_bytes() == cboe.files["VIX"]
    assert not list(
        engine_outputs(tmp_path / "data", recursive=True)
    )  # VIX's output waits for VIX3M
    assert run_cli("--config", api_config(write_config, cboe), "--job", "daily").code == 0
    assert_matches_reference(
        tmp_path / "data/ingested/vix/daily/VIX.parquet", cboe.files["VIX"], "VIX"
    )
