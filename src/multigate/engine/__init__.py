"""The vendor-free task engine: sources describe convert work as tasks; the engine checks
what is current, runs the rest (serially, in a process pool, or on Dask) and publishes.

Sources keep only vendor knowledge: which inputs make which output, and the function
that converts them. Fetches (and money) stay in the coordinating process.
"""

from multigate.engine.run import plan_convert_tasks, run_convert_tasks
from multigate.engine.tasks import ConvertOutput, ConvertTask, FetchTask

__all__ = [
    "ConvertOutput",
    "ConvertTask",
    "FetchTask",
    "plan_convert_tasks",
    "run_convert_tasks",
]
