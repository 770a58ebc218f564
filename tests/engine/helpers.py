"""A VIX job of many symbols and files (made with multigate.sample.vix), and comparisons
of what two runs published."""

from __future__ import annotations

import json
from pathlib import Path

from multigate.sample.vix import SEED, cboe_csv, fred_csv, synthetic_history
from multigate.storage.layout import sidecar_path
from tests.conftest import engine_outputs

CONFIG = """\
data_dir: {data}
sources:
  vix:
    enabled: true
    mode: offline
    jobs:
      - name: many
        mode: offline
        path: in/*/*.csv
"""
OUT = "ingested/vix/many"


def write_many_symbols(folder: Path, symbols: int = 12, days: int = 2_000) -> list[str]:
    """``symbols`` CBOE histories; every third split over an archive and a recent file,
    plus one FRED file that merges into VIX. Returns the symbols."""
    names = ["VIX", *(f"IDX{index:02d}" for index in range(1, symbols))]
    for index, name in enumerate(names):
        rows = synthetic_history(seed=SEED + index, days=days)
        if index % 3 == 1:
            _write(folder / "archive" / f"{name}_History.csv", cboe_csv(rows[: days // 2 + 10]))
            _write(folder / "recent" / f"{name}_History.csv", cboe_csv(rows[days // 2 :]))
        else:
            _write(folder / "recent" / f"{name}_History.csv", cboe_csv(rows))
    _write(folder / "fred" / "VIXCLS.csv", fred_csv(synthetic_history(days=days)))
    return names


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def published(data_dir: Path) -> dict[str, object]:
    """Every output's bytes, and its sidecar without ``created_at`` (the engine's outputs,
    not their table's content-named links)."""
    found: dict[str, object] = {}
    for path in engine_outputs(data_dir / OUT):
        record = json.loads(sidecar_path(path).read_text())
        record.pop("created_at")
        found[path.name] = (path.read_bytes(), record)
    return found


def leftovers(data_dir: Path) -> list[Path]:
    """Temporary files (a worker's or a publish's) anywhere under ``data_dir``."""
    return sorted(path for path in data_dir.rglob(".*") if ".tmp-" in path.name)
