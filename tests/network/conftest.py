"""Fixtures shared by the retry-policy and transfer-watchdog tests of every vendor."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import DATABENTO_KEY
from tests.fakes.databento_server import FakeDatabentoServer

__all__ = ["DATABENTO_KEY"]


class SleepRecorder:
    """An injected ``sleep`` that only records the waits asked for."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def databento(databento_server: Callable[..., FakeDatabentoServer]) -> FakeDatabentoServer:
    """The fake vendor (AAPL, 200 records a day), the real client pointed at it."""
    return databento_server(symbols=("AAPL",), records_per_day=200)
