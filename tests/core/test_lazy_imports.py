"""Loading a config, --help, config errors and a VIX-only run never import a vendor SDK."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.vix.helpers import cboe_csv, synthetic_history

REPO_ROOT = Path(__file__).resolve().parents[2]
VENDOR_SDKS = ("databento", "databento_dbn", "alpaca")

_PROBE = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from multigate.cli import main
    out = io.StringIO()
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(sys.argv[1:])
        except SystemExit as exc:
            code = exc.code
    loaded = sorted({m.split(".")[0] for m in sys.modules})
    print(json.dumps({"code": code, "modules": loaded}))
    """
)


def _probe(*args: str | Path) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def test_help_imports_no_vendor_sdk():
    code, modules = _probe("--help")
    assert code == 0
    assert modules.isdisjoint(VENDOR_SDKS)


def test_config_error_and_dry_run_import_no_vendor_sdk(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data_dir: data\nsources:\n  databento:\n    enabled: yes\n    bogus: 1\n")
    code, modules = _probe("--config", bad)
    assert code == 2
    assert modules.isdisjoint(VENDOR_SDKS)

    # The full example (every vendor configured) loads and plans without the SDKs when
    # only VIX is selected.
    example = tmp_path / "ingest.yaml"
    shutil.copy(REPO_ROOT / "example.ingest.yaml", example)
    subprocess.run(
        [sys.executable, "-m", "multigate.sample", "--data-dir", tmp_path / "data"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    code, modules = _probe("--config", example, "--dry-run", "--source", "vix")
    assert code == 0
    assert modules.isdisjoint(VENDOR_SDKS)


def test_vix_only_run_imports_no_vendor_sdk(tmp_path):
    csv = tmp_path / "in" / "VIX_History.csv"
    csv.parent.mkdir()
    csv.write_bytes(cboe_csv(synthetic_history(days=30)))
    config = tmp_path / "ingest.yaml"
    config.write_text(
        textwrap.dedent(
            """
            data_dir: data
            sources:
              vix:
                enabled: true
                mode: offline
                jobs:
                  - name: local
                    mode: offline
                    path: in/VIX_History.csv
              databento:
                enabled: false
                mode: offline
                jobs: []
            """
        )
    )
    code, modules = _probe("--config", config)
    assert code == 0
    assert (tmp_path / "data/ingested/vix/local/VIX.parquet").is_file()
    assert modules.isdisjoint(VENDOR_SDKS)
    assert modules.isdisjoint({"dask", "distributed"})  # only for --executor dask
