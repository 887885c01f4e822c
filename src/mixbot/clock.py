"""The clock that feeds, replays and simulators read time from: one injectable concept.

Code that reads time or waits takes a :class:`Clock` (default :data:`SYSTEM_CLOCK`, the real
clock, so production behaviour is the machine's). Tests pass a :class:`ManualClock`, whose
time moves only when the test (or a wait) advances it, so they never depend on the machine's
speed: a paced replay at any speed finishes at once and its waits can be asserted exactly.

Smaller components keep the older shape of the same idea, a ``clock``/``sleep`` pair of
callables (``venues/upstox/ratelimit.py``, ``venues/upstox/client.py``,
``service/supervisor.py``); ``ManualClock.monotonic`` and ``ManualClock.sleep`` fit them.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Where time comes from. All values in seconds (float)."""

    def time(self) -> float:
        """Wall time, epoch seconds (UTC)."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds (arbitrary origin) for intervals and deadlines."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait up to ``seconds`` (<= 0: no wait) or until ``event`` is set; return whether
        ``event`` is set (the waiter should stop)."""
        ...


class SystemClock:
    """The machine's clock (``time.time``, ``time.monotonic``, ``Event.wait``)."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if seconds <= 0:
            return event.is_set()
        return event.wait(seconds)


#: The real clock: the default everywhere.
SYSTEM_CLOCK: Clock = SystemClock()


class ManualClock:
    """A clock that moves only when told: :meth:`advance`, or a :meth:`wait`/:meth:`sleep`
    (which advance it by the waited time at once and record it in :attr:`waits`).

    Thread-safe. ``start`` is the initial wall time (epoch seconds); ``monotonic`` starts at
    1000.0 (never 0: some code reads 0.0 as "not yet").
    """

    def __init__(self, start: float = 1_546_300_800.0) -> None:  # 2019-01-01 00:00 UTC
        self._lock = threading.Lock()
        self._t = 0.0
        self._start = float(start)
        #: every wait/sleep asked for, seconds, in order (waits <= 0 are not recorded)
        self.waits: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._start + self._t

    def monotonic(self) -> float:
        with self._lock:
            return 1000.0 + self._t

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0; raises ValueError when negative)."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back ({seconds} s)")
        with self._lock:
            self._t += float(seconds)

    def sleep(self, seconds: float) -> None:
        """Record and 'sleep' ``seconds``: time jumps forward, nothing waits."""
        if seconds > 0:
            with self._lock:
                self.waits.append(float(seconds))
                self._t += float(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.sleep(seconds)
        return event.is_set()


class GatedClock(ManualClock):
    """A :class:`ManualClock` whose waits block until the test lets them pass: each
    :meth:`release` lets one wait through (time then jumps by the waited seconds). A paced
    replay on it plays exactly as many bars as the test releases, however fast the machine.

    A wait also ends when its ``event`` is set (the waiter is stopping).
    """

    def __init__(self, start: float = 1_546_300_800.0) -> None:
        super().__init__(start)
        self._gate = threading.Semaphore(0)

    def release(self, n: int = 1) -> None:
        """Let ``n`` more waits through."""
        for _ in range(n):
            self._gate.release()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        while not event.is_set():
            if self._gate.acquire(timeout=0.05):
                self.sleep(seconds)
                break
        return event.is_set()
