"""Paid downloads left by interrupted runs for chunks that no job plans any more.

A leftover of a chunk some job still plans is verified and kept (or deleted when
incomplete) when that job runs. One that no job plans (its job's range, symbols or chunk
size changed) is never touched: its bytes were paid for. Each is listed, with its size,
once per run in the plan and the summary of one job (the first Databento API job whose
dataset/schema/stype folder holds it, else the first), so the user can keep or delete it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from multigate.storage.atomic import dead_paid_temps

SHOWN = 10


def unplanned_leftovers(
    raw_root: Path, planned: Iterable[Path], owners: Sequence[tuple[str, Path]], job: str
) -> list[Path]:
    """Dead runs' paid downloads under `raw_root` for no path in `planned` that fall to
    `job`: owners lists (job name, its series folder) in config order."""
    wanted = set(planned)
    found: list[Path] = []
    for final, temps in dead_paid_temps(raw_root).items():
        if final in wanted or not owners:
            continue
        owner = next((name for name, folder in owners if folder in final.parents), owners[0][0])
        if owner == job:
            found.extend(temps)
    return found


def leftovers_note(leftovers: Sequence[Path]) -> str:
    """One line naming the leftovers (the first few) and their sizes."""
    size_of = {p: p.stat().st_size for p in leftovers}
    total = sum(size_of[p] for p in leftovers)
    listed = ", ".join(f"{p} ({size_of[p]:,} bytes)" for p in leftovers[:SHOWN])
    more = f" and {len(leftovers) - SHOWN} more" if len(leftovers) > SHOWN else ""
    return (
        f"{len(leftovers)} paid download(s) left by interrupted runs for chunks no job plans "
        f"any more ({total:,} bytes; kept, never deleted automatically): {listed}{more}. "
        "Put the chunk back in a job to keep it, or delete the file to drop it"
    )
