"""Fixtures shared by the retry-policy and transfer-watchdog tests of every vendor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.databento_server import FakeDatabentoServer

DATABENTO_KEY = "db-test-key-0123456789"


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
def databento(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatabentoServer]:
    with FakeDatabentoServer(key=DATABENTO_KEY, symbols=("AAPL",), records_per_day=200) as fake:
        for name, value in fake.client_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield fake
