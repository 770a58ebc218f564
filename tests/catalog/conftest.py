from __future__ import annotations

from pathlib import Path

import pytest

from multigate.exit_codes import ExitCode
from tests.catalog.helpers import CONFIG, write_all_inputs


@pytest.fixture
def ingested(tmp_path, write_config, run_cli) -> Path:
    """A folder with one offline ingest run of every source done; returns the config."""
    write_all_inputs(tmp_path)
    config = write_config(CONFIG)
    result = run_cli("--config", config)
    assert result.code == ExitCode.OK, result.err
    return config
