"""One retry policy for every vendor, built from a source's ``http:`` settings.

An attempt that may succeed if repeated raises :class:`TryAgain` (``raise TryAgain(...) from
err`` keeps the underlying error); anything else it raises ends the loop at once, so cost
checks made inside an attempt (a refused budget) are never retried. Waits double from
``backoff_seconds``, a server's ``Retry-After`` is honoured, and no wait is ever longer than
``max_backoff_seconds``. Each retry is logged; the final error keeps the last cause. Sleeping
goes through the injected ``sleep``, so tests never wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from multigate.config.models import HttpSettings
from multigate.errors import VendorError

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], None]


class TryAgain(Exception):
    """Raised by an attempt that failed in a way worth repeating.

    ``problem`` is a short description for the log; ``retry_after`` the server's wish in
    seconds; ``give_up`` the error to raise when no attempt is left (a generic retryable
    :class:`VendorError` when absent). Raise it ``from`` the underlying error, if any.
    """

    def __init__(
        self,
        problem: str,
        *,
        retry_after: float | None = None,
        give_up: Exception | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after
        self.give_up = give_up


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try a request and how long to wait in between."""

    max_attempts: int = 5
    """Attempts in all, the first one included."""
    backoff_seconds: float = 1.0
    """Wait after the first failed attempt; doubles after each further one."""
    max_backoff_seconds: float = 60.0
    """No wait is longer, whatever the backoff or a server's Retry-After says."""
    sleep: Sleep = time.sleep

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise ValueError("backoff waits must not be negative")

    @classmethod
    def from_http(cls, http: HttpSettings, sleep: Sleep = time.sleep) -> RetryPolicy:
        return cls(http.max_attempts, http.backoff_seconds, http.max_backoff_seconds, sleep)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        wait = self.backoff_seconds * 2.0 ** min(attempt - 1, 60)
        if retry_after is not None and retry_after == retry_after:  # not NaN
            wait = max(wait, retry_after)
        return max(min(wait, self.max_backoff_seconds), 0.0)

    def run(self, what: str, attempt: Callable[[int], T]) -> T:
        """Call ``attempt(n)`` for n = 1, 2, ... until it returns, raises something other
        than :class:`TryAgain`, or the attempts are used up."""
        for number in range(1, self.max_attempts + 1):
            try:
                return attempt(number)
            except TryAgain as failure:
                if number >= self.max_attempts:
                    final = failure.give_up or VendorError(
                        f"{what} failed after {number} attempts: {failure.problem}",
                        retryable=True,
                    )
                    raise final from failure.__cause__
                wait = self.delay(number, failure.retry_after)
                log.warning(
                    "%s failed (%s); retry %d/%d in %.1fs",
                    what,
                    failure.problem,
                    number,
                    self.max_attempts - 1,
                    wait,
                )
                self.sleep(wait)
        raise AssertionError("unreachable: max_attempts >= 1")  # pragma: no cover
