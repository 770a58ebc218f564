"""Sample data the project makes itself, for the README's first command and for tests.

``python -m multigate.sample --data-dir data`` writes vendor-format files under
``data/raw/<source>/sample/``; ``example.ingest.yaml``'s offline jobs read them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from multigate.sample.alpaca import write_alpaca_samples
from multigate.sample.databento import write_databento_samples
from multigate.sample.vix import write_vix_samples

SampleWriter = Callable[[Path], list[Path]]

SAMPLE_WRITERS: dict[str, SampleWriter] = {
    "vix": write_vix_samples,
    "alpaca": write_alpaca_samples,
    "databento": write_databento_samples,
}


def write_samples(data_dir: Path, sources: list[str] | None = None) -> list[Path]:
    """Write every source's sample files under ``data_dir/raw/<source>/sample``."""
    written: list[Path] = []
    for name, writer in SAMPLE_WRITERS.items():
        if sources is None or name in sources:
            written.extend(writer(data_dir / "raw" / name / "sample"))
    return written
