"""Rate limits shared by every bot process on one venue account (one host).

A venue limits the *account*, not the process: two bots on one Upstox account that each keep
under 10 orders/s can together send 20 and break the retail-algo cap (see
:mod:`mixbot.venues.upstox.http.ratelimit` for the limits and the SEBI/NSE source). Under
``mixbot serve`` each bot is its own process, so an in-process limiter cannot see the others.

:class:`SharedWindowLimiter` keeps the same sliding-window log as
:class:`~mixbot.venues.upstox.http.ratelimit.MultiWindowLimiter` (a token spent at t comes back at
t + window: never more than n calls in ANY window), but in a small file that every process of
the account reads and rewrites under an exclusive ``fcntl.flock``:

* ``<dir>/<name>.rate``: the spent times (``CLOCK_MONOTONIC`` seconds, which is one clock for
  every process of a Linux host), 8-byte little-endian doubles, oldest first, only those still
  inside the longest window. Written to a temporary file and ``os.replace``-d, so a process
  killed mid-write leaves the old log, never a torn one.
* ``<dir>/<name>.rate.lock``: the lock file (the kernel drops the lock when a holder dies,
  ``kill -9`` included).

The account name in the file name is a digest, never a token. Thread-safe as well (a thread
lock serialises the threads of one process, the file lock the processes). Hosts do not share
it: run the bots of one account on one host.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_DOUBLE = struct.Struct("<d")


def account_key(*parts: str) -> str:
    """A file-name-safe, non-reversible name for an account (e.g. venue + token): the
    first 16 hex digits of SHA-256 over the parts; the secret itself never reaches a path."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]


class SharedWindowLimiter:
    """Several (calls, window) limits that must ALL allow a call, shared across processes.

    Args:
        limits: (calls, window seconds) pairs, e.g. ``((10, 1.0), (500, 60.0))``.
        directory: the folder of the log and lock files (created when missing); every
            process of the account must use the same one (mixbot: the store's lock folder).
        name: the account's file name stem (see :func:`account_key`) plus the API group.
        clock: a monotonic clock in seconds, shared by all processes (default
            ``time.monotonic`` = ``CLOCK_MONOTONIC``); tests pass a fake.
        sleep: how to wait (tests: a fake that advances ``clock``).

    Raises:
        ValueError: an empty or non-positive limit.
    """

    def __init__(
        self,
        limits: Sequence[tuple[int, float]],
        directory: str | Path,
        name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not limits or any(int(n) < 1 or float(w) <= 0 for n, w in limits):
            raise ValueError(f"bad limits {limits!r}: need (calls >= 1, window > 0) pairs")
        self.limits = tuple((int(n), float(w)) for n, w in limits)
        self.name = name
        self.directory = Path(directory)
        self.path = self.directory / f"{name}.rate"
        self._lock_path = self.directory / f"{name}.rate.lock"
        self._horizon = max(w for _, w in self.limits)
        self._clock = clock
        self._sleep = sleep
        self._thread_lock = threading.Lock()
        #: the clock value at which this limiter last granted a call (None before the first).
        self.last_acquired_at: float | None = None

    def _read(self) -> list[float]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        usable = len(data) - len(data) % _DOUBLE.size
        return [v for (v,) in _DOUBLE.iter_unpack(data[:usable])]

    def _write(self, spent: list[float]) -> None:
        tmp = self.path.with_suffix(f".rate.{os.getpid()}.tmp")
        tmp.write_bytes(b"".join(_DOUBLE.pack(v) for v in spent))
        os.replace(tmp, self.path)

    def _delay(self, spent: list[float], now: float) -> float:
        delay = 0.0
        for n, w in self.limits:
            inside = [t for t in spent if t > now - w]
            if len(inside) >= n:
                delay = max(delay, inside[-n] + w - now)
        return delay

    def try_acquire(self) -> float:
        """Take a token in every window if all have one (returns 0.0); else take nothing and
        return the seconds to wait before trying again."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self._lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                now = self._clock()
                spent = [t for t in self._read() if t > now - self._horizon]
                delay = self._delay(spent, now)
                if delay > 0:
                    return delay
                spent.append(now)
                self._write(spent)
                self.last_acquired_at = now
                return 0.0
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def acquire(self) -> float:
        """Block until every window allows one more call (for all processes together), and
        record it. Returns the seconds waited (0.0 when a token was free)."""
        waited = 0.0
        while True:
            delay = self.try_acquire()
            if delay <= 0:
                return waited
            self._sleep(delay)
            waited += delay

    def available(self) -> int:
        """Calls that could start right now without waiting (all processes together)."""
        now = self._clock()
        spent = self._read()
        return min(n - sum(1 for t in spent if t > now - w) for n, w in self.limits)
