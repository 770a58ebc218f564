"""Retry policy for Alpaca HTTP calls: bounded attempts, backoff honouring Retry-After."""

from __future__ import annotations

from dataclasses import dataclass

from multigate.http import RETRY_STATUSES, parse_retry_after

__all__ = ["RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before repeating a failed HTTP request.

    `max_attempts` counts every request, the first one included. The wait before attempt
    k+1 is the server's Retry-After (capped at `retry_after_max`) when given, else
    `backoff_base * 2**(k-1)` capped at `backoff_max`.
    """

    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0
    retry_statuses: frozenset[int] = RETRY_STATUSES
    timeout: tuple[float, float] = (10.0, 120.0)  # (connect, read) seconds, for requests

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise ValueError("backoff and Retry-After limits must not be negative")

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max)
        return min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max)
