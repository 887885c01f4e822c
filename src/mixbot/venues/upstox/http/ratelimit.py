"""Token buckets for the Upstox API rate limits (orders and standard calls).

Upstox limits every user, per API, over three windows at once
(https://upstox.com/developer/api-documentation/rate-limiting; HTTP 429 / ``UDAPI10005`` when
exceeded, no ``Retry-After`` documented):

=====================================  ==========  ============  ==============
API group                              per second  per minute    per 30 minutes
=====================================  ==========  ============  ==============
Orders (place, modify, cancel, multi,  10          500           2,000
GTT, exit all) - regular algos
Orders - exchange-registered algos     50          500           2,000
Standard APIs (everything else)        50          500           2,000
=====================================  ==========  ============  ==============

**Retail-algo hard cap.** Under the SEBI retail algo framework (SEBI circular
SEBI/HO/MIRSD/MIRSD-PoD/P/CIR/2025/0000013, 4 Feb 2025) and the NSE implementation standards
(NSE circular of 5 May 2025, "Retail Algo" / order-per-second threshold), an API user that sends
more than **10 orders per second** is an algo that must be registered with the exchange (an
Algo ID, sent by Upstox as the ``X-Algo-Name`` header; see
https://upstox.com/developer/api-documentation/announcements/algo-trading-circular). mixbot's
bots are not registered: unless ``registered_algo=True`` the order limiter never lets more than
10 order calls (place + modify + cancel together, conservatively) start in any 1-second window.

**Why not a classic refilling bucket.** A bucket of capacity *n* refilled continuously at
*n*/window lets up to 2n-1 calls through some window (a full burst, then the refill), which
would break the 10 orders/s cap. Each :class:`WindowBucket` instead holds *n* tokens and gives
a spent token back exactly ``window`` seconds after it was spent (a sliding-window log): never
more than *n* calls in ANY window of that length, while a burst of *n* still goes at once.

Thread-safe; :meth:`MultiWindowLimiter.acquire` sleeps (no busy wait) until every window has a
token; ``clock``/``sleep`` are injectable (tests use a fake clock whose ``sleep`` advances it).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

#: (calls, window seconds) for the three windows of each API group.
ORDER_LIMITS: tuple[tuple[int, float], ...] = ((10, 1.0), (500, 60.0), (2000, 1800.0))
ORDER_LIMITS_REGISTERED: tuple[tuple[int, float], ...] = ((50, 1.0), (500, 60.0), (2000, 1800.0))
STANDARD_LIMITS: tuple[tuple[int, float], ...] = ((50, 1.0), (500, 60.0), (2000, 1800.0))

#: Exchange threshold for unregistered (retail) algos: orders per second.
RETAIL_MAX_ORDERS_PER_SECOND = 10


class WindowBucket:
    """``capacity`` tokens; a token spent at time t comes back at t + ``window``.

    Not thread-safe by itself (:class:`MultiWindowLimiter` holds the lock).
    """

    def __init__(self, capacity: int, window: float) -> None:
        if capacity < 1 or window <= 0:
            raise ValueError(f"bad bucket: capacity={capacity}, window={window}")
        self.capacity = int(capacity)
        self.window = float(window)
        self._spent: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0] <= now - self.window:
            self._spent.popleft()

    def available(self, now: float) -> int:
        """Tokens left at ``now``."""
        self._expire(now)
        return self.capacity - len(self._spent)

    def wait_time(self, now: float) -> float:
        """Seconds from ``now`` until a token is available (0 when one is)."""
        self._expire(now)
        if len(self._spent) < self.capacity:
            return 0.0
        return max(0.0, self._spent[0] + self.window - now)

    def take(self, now: float) -> None:
        """Spend one token at ``now`` (the caller checked :meth:`wait_time` is 0)."""
        self._spent.append(now)


class MultiWindowLimiter:
    """Several :class:`WindowBucket` s that must ALL have a token for a call to start.

    Args:
        limits: (calls, window seconds) pairs.
        clock: monotonic clock, seconds.
        sleep: how to wait (tests: a fake that advances ``clock``).
        name: for messages.
    """

    def __init__(
        self,
        limits: Sequence[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        name: str = "limiter",
    ) -> None:
        if not limits:
            raise ValueError("at least one (calls, window) limit is needed")
        self.limits = tuple((int(n), float(w)) for n, w in limits)
        self.buckets = [WindowBucket(n, w) for n, w in self.limits]
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        """Take a token from every bucket if all have one (returns 0.0); else take nothing
        and return the seconds to wait before trying again."""
        with self._lock:
            now = self._clock()
            delay = max(b.wait_time(now) for b in self.buckets)
            if delay <= 0:
                for b in self.buckets:
                    b.take(now)
                return 0.0
            return delay

    def acquire(self) -> float:
        """Block until every window allows one more call, and record it.

        Returns:
            the seconds waited (0.0 when a token was free).
        """
        waited = 0.0
        while True:
            delay = self.try_acquire()
            if delay <= 0:
                return waited
            # sleep outside the lock, then re-check: another thread may have taken the token
            self._sleep(delay)
            waited += delay

    def available(self) -> int:
        """Calls that could start right now without waiting."""
        with self._lock:
            now = self._clock()
            return min(b.available(now) for b in self.buckets)


class UpstoxRateLimits:
    """The limiters mixbot uses for one Upstox user: ``orders`` and ``standard``.

    Args:
        registered_algo: True only for an exchange-registered algo (sends ``X-Algo-Name``):
            allows 50 orders/s. False (default): at most 10 orders/s, the retail threshold.
        clock, sleep: injectable for tests.
    """

    def __init__(
        self,
        *,
        registered_algo: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.registered_algo = bool(registered_algo)
        order_limits = ORDER_LIMITS_REGISTERED if self.registered_algo else ORDER_LIMITS
        self.orders = MultiWindowLimiter(order_limits, clock=clock, sleep=sleep, name="orders")
        self.standard = MultiWindowLimiter(
            STANDARD_LIMITS, clock=clock, sleep=sleep, name="standard"
        )

    def acquire(self, kind: str = "standard") -> float:
        """Wait for a token of ``kind`` (``"order"`` or ``"standard"``); returns seconds waited."""
        if kind in ("order", "orders"):
            return self.orders.acquire()
        if kind == "standard":
            return self.standard.acquire()
        raise ValueError(f"unknown rate-limit kind {kind!r} (expected 'order' or 'standard')")


def order_limiter(
    registered_algo: bool = False,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> MultiWindowLimiter:
    """A limiter for order calls: 10/s (50/s when ``registered_algo``), 500/min, 2000/30 min."""
    limits = ORDER_LIMITS_REGISTERED if registered_algo else ORDER_LIMITS
    return MultiWindowLimiter(limits, clock=clock, sleep=sleep, name="orders")
