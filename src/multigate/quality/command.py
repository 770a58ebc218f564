"""``multigate check [DATASET ...] [--strict]``: the quality findings of a data folder."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from multigate.exit_codes import ExitCode
from multigate.quality.job_outputs import collect_datasets
from multigate.quality.results import run_check


def check_data_dir(
    data_dir: Path,
    names: Sequence[str] = (),
    *,
    strict: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print the findings of the named datasets (all when none is named), from sidecars.
    Returns 0; 5 under ``strict`` when a check fails; 2 for an unknown dataset (the error
    lists the known ones)."""
    datasets = dict(collect_datasets(data_dir))
    unknown = [name for name in names if name not in datasets]
    if unknown:
        known = ", ".join(datasets) or f"none under {data_dir / 'ingested'}"
        print(
            f"error: unknown dataset {', '.join(unknown)}; known: {known}", file=err or sys.stderr
        )
        return int(ExitCode.CONFIG_ERROR)
    chosen = {name: datasets[name] for name in names} if names else datasets
    return run_check(chosen, strict=strict, out=out)
