"""Keep under a vendor's request rate limit instead of running into its 429s."""

from __future__ import annotations

import time
from collections.abc import Callable


class RequestPacer:
    """Spaces request starts at least ``60 / per_minute`` seconds apart (0 = no limit)."""

    def __init__(
        self,
        per_minute: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._sleep = sleep
        self._clock = clock
        self._next: float | None = None

    def wait(self) -> None:
        """Block until the next request may start."""
        if not self._interval:
            return
        now = self._clock()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval
