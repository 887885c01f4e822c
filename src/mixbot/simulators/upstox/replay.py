"""The replay clock and the shared market stream.

Simulated time (ms since epoch UTC) runs through the trading days of the data files from
``start`` (a date; default the first day of the 1-minute data, else the last daily bar's
day). Each trading day: the clock jumps to 09:15 IST, a ``market_info`` with
``NORMAL_OPEN`` goes out, then every synthetic trade tick of every instrument in time order
(see :mod:`.ticks`), then at 15:30 a ``market_info`` with ``NORMAL_CLOSE``. The night and
non-trading days are skipped (no waiting). Before the replay starts the clock shows 09:08
IST of the first day (``PRE_OPEN_END``).

``speed``: simulated seconds per real second inside a session (1 = wall clock, 60 = a
minute per second); ``0`` = as fast as the clients read (the producer waits for the slowest
subscribed client's queue and pauses while nobody is subscribed). With ``wait_for_client``
(default) the replay starts when the first client subscribes, for every speed. With
``hold_without_client`` (speed > 0) simulated time also stands still while nobody is
subscribed, so a client that restarts (a killed bot) misses no market time however long its
restart takes on a busy machine.

END OF DATA: after the last session (and its post-close prints, if any) a FINAL
``market_info`` with every segment ``NORMAL_CLOSE`` is sent, then every websocket is closed with a normal close, code 1000, reason ``"end of replay"``; later
connections get the final market_info and the same close. Clients that want to stop at the
end of data can rely on this.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from mixbot.simulators.upstox.feed import InstState, feed_message, market_info_message
from mixbot.simulators.upstox.instruments import Series
from mixbot.simulators.upstox.market import SEGMENTS, Calendar, at_ms, session_bounds
from mixbot.simulators.upstox.ticks import DEFAULT_TICKS_PER_BAR, Tick, synth_ticks


class Clock:
    """Simulated time; see the module docstring for ``speed``."""

    def __init__(self, speed: float, start_ms: int) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = speed
        self.sim_ms = start_ms
        self._sim_anchor = start_ms
        self._real_anchor = time.monotonic()
        self.limit_ms = start_ms
        self.running = False

    def now_ms(self) -> int:
        """Simulated now. With speed > 0 it moves with the wall clock (up to ``limit_ms``)."""
        if self.running and self.speed > 0:
            wall = self._sim_anchor + (time.monotonic() - self._real_anchor) * 1000 * self.speed
            return int(max(self.sim_ms, min(self.limit_ms, wall)))
        return self.sim_ms

    def hold(self) -> None:
        """Stop simulated time where it is now (until :meth:`resume`)."""
        self.sim_ms = self.now_ms()
        self.running = False

    def resume(self) -> None:
        """Let simulated time run again from where :meth:`hold` stopped it."""
        self.jump(self.sim_ms, self.limit_ms)
        self.running = True

    def jump(self, t_ms: int, limit_ms: int) -> None:
        """Set the time to ``t_ms`` at once (session start); wall time moves no further
        than ``limit_ms`` (session end) on its own."""
        self.sim_ms = self._sim_anchor = t_ms
        self._real_anchor = time.monotonic()
        self.limit_ms = limit_ms

    async def advance_to(self, t_ms: int) -> None:
        """Wait (speed > 0) until the wall clock reaches simulated ``t_ms``; set it."""
        if self.speed > 0:
            due = self._real_anchor + (t_ms - self._sim_anchor) / 1000 / self.speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        self.sim_ms = max(self.sim_ms, t_ms)


@dataclass
class Event:
    """One item of the shared stream: a tick of ``key``, a market_info, or the end."""

    kind: str  # "tick" | "info" | "end"
    now_ms: int
    key: str = ""
    data: bytes = b""  # the serialised market_info for kind == "info"
    cache: dict[str, bytes] = field(default_factory=dict)


class Subscriber:
    """What a websocket connection needs from the stream: a queue and its subscriptions."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.subs: dict[str, str] = {}  # instrument key -> mode
        self.lost = 0  # events dropped because the queue was full (speed > 0)


class Replay:
    """Produces the shared stream from the loaded series (see the module docstring)."""

    def __init__(
        self,
        series: list[Series],
        speed: float = 0.0,
        start: dt.date | None = None,
        end: dt.date | None = None,
        ticks_per_bar: int = DEFAULT_TICKS_PER_BAR,
        wait_for_client: bool = True,
        hold_without_client: bool = False,
    ) -> None:
        self.series = series
        self.by_key = {s.inst.key: s for s in series}
        intraday = [s for s in series if not s.daily]
        all_days = sorted({d for s in series for d in s.days()})
        self.calendar = Calendar(all_days)
        if start is None:
            start = intraday[0].days()[0] if intraday else all_days[-1]
        if end is None:
            end = max(s.days()[-1] for s in intraday) if intraday else all_days[-1]
        self.days = [d for d in all_days if start <= d <= end]
        if not self.days:
            raise ValueError(f"no trading day with data between {start} and {end}")
        self.start_day = self.days[0]
        self.ticks_per_bar = ticks_per_bar
        self.wait_for_client = wait_for_client
        self.hold_without_client = hold_without_client
        self.clock = Clock(speed, at_ms(self.start_day, dt.time(9, 8)))
        self.states = {s.inst.key: InstState(s.inst, cp=self._prev_close(s)) for s in series}
        for st in self.states.values():
            st.ltp = st.cp
        self.subscribers: set[Subscriber] = set()
        self.finished = False
        #: True while the producer waits for a subscriber: no tick is applied until one comes
        self.idle = False
        self.final_info: bytes | None = None
        self._wake = asyncio.Event()
        #: called with (key, tick) after each tick is applied (the exchange matches on them)
        self.tick_hooks: list[Callable[[str, Tick], None]] = []
        #: called with ("open" | "close", ms) at each session's open and close
        self.session_hooks: list[Callable[[str, int], None]] = []
        #: awaited with the next day before each session after the first (the night between
        #: two sessions: where Upstox tokens expire at 03:30 IST); the replay waits for them
        self.night_hooks: list[Callable[[dt.date], Awaitable[None]]] = []

    def _prev_close(self, s: Series) -> float:
        """Close of the last bar before the start day (else the first bar's open), INR."""
        i = int(np.searchsorted(s.end_ms, session_bounds(self.start_day)[0] - 9 * 3600_000))
        return float(s.c[i - 1]) if i > 0 else float(s.o[0])

    def statuses(self, now_ms: int | None = None) -> dict[str, str]:
        """Segment -> MarketStatus name at ``now_ms`` (default: now)."""
        t = self.clock.now_ms() if now_ms is None else now_ms
        status = self.calendar.status(t)
        if self.finished:
            status = "NORMAL_CLOSE"
        return dict.fromkeys(SEGMENTS, status)

    def info_message(self) -> bytes:
        """The current market_info message."""
        if self.finished and self.final_info is not None:
            return self.final_info
        return market_info_message(self.statuses(), self.clock.now_ms())

    def snapshot(self, keys: dict[str, str]) -> bytes:
        """An ``initial_feed`` for ``keys`` (key -> mode); unknown keys are left out."""
        feeds = {k: self.states[k].feed(m) for k, m in keys.items() if k in self.states}
        return feed_message(pb.initial_feed, feeds, self.clock.now_ms())

    def encode(self, ev: Event, mode: str) -> bytes:
        """The bytes of a tick event in ``mode`` (made when published, cached per event)."""
        data = ev.cache.get(mode)
        if data is None:
            feed = self.states[ev.key].feed(mode)
            data = ev.cache[mode] = feed_message(pb.live_feed, {ev.key: feed}, ev.now_ms)
        return data

    # ------------------------------------------------------------------ subscribers

    def add(self) -> Subscriber:
        sub = Subscriber(64 if self.clock.speed == 0 else 4096)
        self.subscribers.add(sub)
        return sub

    def remove(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        while not sub.queue.empty():  # unblock a producer waiting on this full queue
            sub.queue.get_nowait()
        self.poke()

    def _session(self, kind: str, ms: int) -> None:
        for hook in self.session_hooks:
            hook(kind, ms)

    def poke(self) -> None:
        """Re-check whether someone is subscribed (call after a subscription change)."""
        self._wake.set()

    def _someone_subscribed(self) -> bool:
        return any(s.subs for s in self.subscribers)

    async def _wait_for_subscriber(self) -> None:
        while not self._someone_subscribed():
            self.idle = True
            self._wake.clear()
            await self._wake.wait()
        self.idle = False

    async def _publish(self, ev: Event) -> None:
        targets = [s for s in self.subscribers if ev.kind != "tick" or ev.key in s.subs]
        if ev.kind == "tick":  # encode NOW: the state moves on while events wait in queues
            for mode in {s.subs[ev.key] for s in targets}:
                self.encode(ev, mode)
        for sub in targets:
            if ev.kind == "tick" and ev.key not in sub.subs:
                continue
            if ev.kind == "end":  # must arrive: make room if needed
                while sub.queue.full():
                    sub.queue.get_nowait()
                sub.queue.put_nowait(ev)
            elif self.clock.speed == 0:
                await sub.queue.put(ev)
            else:
                try:
                    sub.queue.put_nowait(ev)
                except asyncio.QueueFull:
                    sub.lost += 1

    # ------------------------------------------------------------------ producer

    def _ticks(self, s: Series, day: dt.date) -> Iterator[tuple[int, str, Tick]]:
        open_ms, close_ms = session_bounds(day)
        a = int(np.searchsorted(s.end_ms, open_ms - 9 * 3600_000, side="left"))
        b = int(np.searchsorted(s.end_ms, close_ms + 9 * 3600_000, side="right"))
        lot = s.inst.lot_size
        for i in range(a, b):
            end = int(s.end_ms[i])
            if s.daily:
                start, end, n = open_ms, close_ms, self.ticks_per_bar * 10
            else:
                start, n = end - s.interval_ms, self.ticks_per_bar
            seed = f"{s.inst.key}@{end}"
            o, h, lo, c, v = (float(a[i]) for a in (s.o, s.h, s.lo, s.c, s.v))
            for t in synth_ticks(o, h, lo, c, v, start, end, n=n, lot=lot, seed=seed):
                yield t.ltt, s.inst.key, t

    async def _close_session(self, close_ms: int) -> bool:
        await self.clock.advance_to(close_ms)
        self._session("close", close_ms)
        info = market_info_message(self.statuses(close_ms), close_ms)
        await self._publish(Event("info", close_ms, data=info))
        return True

    async def run(self) -> None:
        """Play every day, then end the stream (see the module docstring)."""
        if self.wait_for_client:
            await self._wait_for_subscriber()
        self.clock.running = True
        for n, day in enumerate(self.days):
            if n:
                for night in self.night_hooks:
                    await night(day)
            open_ms, close_ms = session_bounds(day)
            for st in self.states.values():
                st.new_day(day)
            self.clock.jump(open_ms, close_ms)
            self._session("open", open_ms)
            info = market_info_message(self.statuses(open_ms), open_ms)
            await self._publish(Event("info", open_ms, data=info))
            streams = [self._ticks(s, day) for s in self.series]
            closed = False
            for ltt, key, tick in heapq.merge(*streams, key=lambda x: x[0]):
                if not closed and ltt >= close_ms:  # post-close prints follow the close
                    closed = await self._close_session(close_ms)
                    self.clock.limit_ms = at_ms(day, dt.time(23, 59))
                if self.clock.speed == 0:
                    await self._wait_for_subscriber()
                elif self.hold_without_client and not self._someone_subscribed():
                    self.clock.hold()
                    await self._wait_for_subscriber()
                    self.clock.resume()
                await self.clock.advance_to(ltt)
                self.states[key].apply(tick)
                for hook in self.tick_hooks:
                    hook(key, tick)
                await self._publish(Event("tick", ltt, key=key))
            if not closed:
                await self._close_session(close_ms)
        now = self.clock.now_ms()
        self.final_info = market_info_message(dict.fromkeys(SEGMENTS, "NORMAL_CLOSE"), now)
        await self._publish(Event("info", now, data=self.final_info))
        self.finished = True
        await self._publish(Event("end", now))
