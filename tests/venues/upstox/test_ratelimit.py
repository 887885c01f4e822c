"""Upstox rate-limit buckets, with a fake clock."""

from __future__ import annotations

import threading

import pytest

from mixbot.venues.upstox.http.ratelimit import (
    ORDER_LIMITS,
    RETAIL_MAX_ORDERS_PER_SECOND,
    MultiWindowLimiter,
    UpstoxRateLimits,
    WindowBucket,
    order_limiter,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "never a zero/negative sleep (would busy-wait)"
        self.sleeps.append(seconds)
        self.now += seconds


def max_in_window(times: list[float], window: float) -> int:
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_retail_order_cap_is_ten_per_second_in_any_window() -> None:
    clock = FakeClock()
    lim = order_limiter(clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(45):
        lim.acquire()
        times.append(clock.now)
    assert max_in_window(times, 1.0) == RETAIL_MAX_ORDERS_PER_SECOND == 10
    assert times[:10] == [1000.0] * 10  # a burst of 10 goes at once
    assert times[10] == pytest.approx(1001.0)  # the 11th waits for the first token back
    assert clock.sleeps  # it slept, no busy wait


def test_registered_algo_allows_fifty_per_second() -> None:
    clock = FakeClock()
    lim = order_limiter(True, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        assert lim.acquire() == 0.0
    assert clock.now == 1000.0
    lim.acquire()
    assert clock.now == pytest.approx(1001.0)


def test_minute_and_half_hour_windows() -> None:
    clock = FakeClock()
    lim = MultiWindowLimiter(ORDER_LIMITS, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(520):
        lim.acquire()
        times.append(clock.now)
    assert max_in_window(times, 60.0) == 500
    assert max_in_window(times, 1.0) == 10
    # 500 at 10/s take 49.x s; the 501st must wait until the first leaves the minute window
    assert times[500] - times[0] == pytest.approx(60.0)

    clock2 = FakeClock()
    lim2 = MultiWindowLimiter(((2000, 1800.0),), clock=clock2, sleep=clock2.sleep)
    for _ in range(2000):
        lim2.acquire()
    assert clock2.now == 1000.0
    waited = lim2.acquire()
    assert waited == pytest.approx(1800.0)


def test_try_acquire_takes_nothing_when_one_window_is_full() -> None:
    clock = FakeClock()
    lim = MultiWindowLimiter(((3, 1.0), (5, 60.0)), clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert lim.try_acquire() == 0.0
    assert lim.try_acquire() == pytest.approx(1.0)
    assert lim.available() == 0
    clock.now += 1.0
    assert lim.available() == 2  # the minute window has 2 left, the second window 3
    assert lim.try_acquire() == 0.0
    assert lim.try_acquire() == 0.0
    assert lim.try_acquire() == pytest.approx(59.0)


def test_upstox_rate_limits_kinds() -> None:
    clock = FakeClock()
    limits = UpstoxRateLimits(clock=clock, sleep=clock.sleep)
    assert limits.orders.limits[0] == (10, 1.0)
    assert limits.standard.limits[0] == (50, 1.0)
    for _ in range(50):
        limits.acquire("standard")
    for _ in range(10):
        limits.acquire("order")
    assert clock.now == 1000.0  # separate buckets
    limits.acquire("order")
    assert clock.now == pytest.approx(1001.0)
    assert UpstoxRateLimits(registered_algo=True).orders.limits[0] == (50, 1.0)
    with pytest.raises(ValueError):
        limits.acquire("quotes")


def test_bucket_validation() -> None:
    with pytest.raises(ValueError):
        WindowBucket(0, 1.0)
    with pytest.raises(ValueError):
        MultiWindowLimiter(())


def test_thread_safe_under_contention() -> None:
    """Many threads on a real clock with a tiny window: never more than n per window. The
    times checked are the limiter's own (taken under its lock), so a descheduled thread on a
    busy machine cannot blur them."""
    times: list[float] = []
    lim = MultiWindowLimiter(((5, 0.05),))
    bucket = lim.buckets[0]
    take = bucket.take

    def recording_take(now: float) -> None:
        times.append(now)
        take(now)

    bucket.take = recording_take  # type: ignore[method-assign]

    def worker() -> None:
        for _ in range(6):
            lim.acquire()

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times.sort()
    assert len(times) == 30
    assert max_in_window(times, 0.05) <= 5
