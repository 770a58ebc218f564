"""A convert function whose worker process dies (as under the kernel's OOM killer)."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from multigate.engine.tasks import ConvertOutput


def die_in_worker(inputs: Sequence[Path], tmp: Path, params: Mapping[str, Any]) -> ConvertOutput:
    if params.get("die"):
        os.kill(os.getpid(), signal.SIGKILL)
    tmp.write_bytes(b"made from " + b",".join(path.read_bytes() for path in inputs))
    return ConvertOutput(rows=1)
