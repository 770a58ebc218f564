"""``datasets()`` carries each dataset's quality summary, straight from the index."""

from __future__ import annotations

import pyarrow.compute as pc
import pyarrow.parquet as pq

from multigate import Catalog
from multigate.exit_codes import ExitCode
from tests.catalog.helpers import CONFIG, stored_files, write_all_inputs, write_vix


def _ohlc_inconsistent(files) -> int:
    """Rows with high < low, or open/close outside [low, high], counted by pyarrow."""
    total = 0
    for path in files:
        t = pq.read_table(path)
        low, high = t["low"], t["high"]
        bad = pc.or_(
            pc.less(high, low),
            pc.or_(
                pc.or_(pc.less(t["open"], low), pc.greater(t["open"], high)),
                pc.or_(pc.less(t["close"], low), pc.greater(t["close"], high)),
            ),
        )
        total += pc.sum(pc.fill_null(bad, False)).as_py() or 0
    return total


def test_datasets_carry_failing_row_checks(tmp_path, write_config, run_cli):
    write_all_inputs(tmp_path)
    write_vix(tmp_path, days=2_600)  # past the close-only years, into the quirky rows
    result = run_cli("--config", write_config(CONFIG))
    assert result.code == ExitCode.OK, result.err
    data_dir = tmp_path / "data"
    infos = {info.name: info for info in Catalog.open(data_dir).datasets()}
    vix = [name for name in infos if name.startswith("vix/")]
    assert vix
    for name in vix:
        expected = _ohlc_inconsistent(stored_files(data_dir, name))
        assert expected > 0  # the sample history carries inconsistent rows on purpose
        assert infos[name].quality.get("ohlc_inconsistent") == expected
        assert "close_only" not in infos[name].quality  # a known quirk, not a failure
    # A rebuilt index (walking the folder, not the snapshot records) says the same.
    rebuilt = {info.name: info.quality for info in Catalog.open(data_dir, rebuild=True).datasets()}
    assert rebuilt == {name: info.quality for name, info in infos.items()}
