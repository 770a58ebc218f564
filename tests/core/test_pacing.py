"""Client-side request pacing under a vendor's rate limit."""

from multigate.pacing import RequestPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_are_spaced_to_the_limit():
    clock = FakeClock()
    pacer = RequestPacer(120, sleep=clock.sleep, clock=clock)  # one every 0.5 s
    for _ in range(5):
        pacer.wait()
    assert clock.slept == [0.5, 0.5, 0.5, 0.5]
    assert clock.now == 102.0


def test_time_already_passed_is_not_slept_again():
    clock = FakeClock()
    pacer = RequestPacer(60, sleep=clock.sleep, clock=clock)
    pacer.wait()
    clock.now += 5.0  # the request itself took longer than the interval
    pacer.wait()
    assert clock.slept == []


def test_zero_means_no_pacing():
    clock = FakeClock()
    pacer = RequestPacer(0, sleep=clock.sleep, clock=clock)
    for _ in range(10):
        pacer.wait()
    assert clock.slept == []
