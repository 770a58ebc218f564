"""The vendor-free task engine: sources describe convert work as tasks; the engine checks
what is current, runs the rest (serially, in a process pool, or on Dask) and publishes.

Sources keep only vendor knowledge: which inputs make which output, and the function
that converts them. Fetches (and money) stay in the coordinating process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from multigate.engine.tasks import ConvertOutput, ConvertTask, FetchTask

if TYPE_CHECKING:
    from multigate.engine.run import plan_convert_tasks, run_convert_tasks

__all__ = [
    "ConvertOutput",
    "ConvertTask",
    "FetchTask",
    "plan_convert_tasks",
    "run_convert_tasks",
]


def __getattr__(name: str) -> Any:
    """The coordinator's side (``run_convert_tasks``, ``plan_convert_tasks``) is imported
    on first use: a worker process imports only what runs a task."""
    if name in ("plan_convert_tasks", "run_convert_tasks"):
        from multigate.engine import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
