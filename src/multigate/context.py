"""What a run hands every source: paths, environment, flags and side effects.

Side effects (environment, clock, sleep, prompt, progress) are passed in rather than read
from globals, so tests drive sources without patching anything.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from multigate.progress import NullProgress, Progress

if TYPE_CHECKING:
    from multigate.engine.executors import Executor


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class RunContext:
    data_dir: Path
    """Root of ``raw/`` and ``ingested/``."""
    base_dir: Path
    """Folder of the config file; relative job paths are resolved against it."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment (real variables over ``.env``); where API keys come from."""
    force: bool = False
    """Redo jobs even when their outputs are current."""
    assume_yes: bool = False
    """Answer confirmations with yes (never overrides a hard cost cap)."""
    dry_run: bool = False
    """Plan only: write nothing, download nothing (free cost quotes are allowed)."""
    interactive: bool = False
    """Whether a person can answer prompts (stdin is a terminal)."""
    prompt: Callable[[str], str] = input
    notify: Callable[[str], None] = _to_stderr
    """Messages a person must see whatever the log level (cost estimates)."""
    progress: Progress = field(default_factory=NullProgress)
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = _utc_now
    executor: Executor | None = None
    """Where convert tasks run (None: one after another in this process)."""

    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate
