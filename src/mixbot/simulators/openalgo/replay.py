"""The simulator's clock: plays the quote events of :mod:`.market` bar by bar.

Pacing (``speed``):

* ``speed > 0``: simulated seconds per real second inside a session (60 = a minute per
  second); the night and non-trading days are skipped (a jump of more than 10 simulated
  minutes costs no wall time).
* ``speed == 0``: STEPPED. Nothing moves until :meth:`Replay.step` (the tests; or
  ``POST /_sim/step {"bars": n}``) allows ``n`` more bar ends; every event of those bars is
  then played at once. Tests drive the clock this way and never wait on wall time.

With ``wait_for_client`` (default) the replay starts when the first websocket client has
subscribed to anything. After the last bar, :attr:`finished` is set and every websocket is
closed with code 1000, reason ``"end of replay"`` (later connections get the same close
after authenticating); clients that want to stop at the end of data rely on this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from mixbot.simulators.openalgo.exchange import Exchange
from mixbot.simulators.openalgo.market import Event, Instrument, bar_events, ist_day, merged_bars

#: a simulated gap longer than this (ms) is a jump (night, weekend): no wall time spent
JUMP_MS = 10 * 60 * 1000


class Replay:
    """Plays the bars of ``instruments`` into ``exchange`` and ``broadcast`` (see the module
    docstring). Lives on the simulator's event loop."""

    def __init__(
        self,
        instruments: list[Instrument],
        exchange: Exchange,
        broadcast: Callable[[Instrument, Event], Awaitable[None]],
        speed: float,
        wait_for_client: bool = True,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.instruments = instruments
        self.exchange = exchange
        self.broadcast = broadcast
        self.speed = float(speed)
        self.bars = list(merged_bars(instruments))
        self.pos = 0  # bar ends played so far
        self.finished = False
        self.started = asyncio.Event()
        if not wait_for_client:
            self.started.set()
        self._allowed = 0
        self._cond = asyncio.Condition()
        self._day_volume: dict[int, tuple[object, float]] = {}

    @property
    def now_ms(self) -> int:
        """The simulated exchange time, epoch ms UTC (0 before the first event)."""
        return self.exchange.now_ms

    async def step(self, n: int = 1) -> int:
        """Allow ``n`` more bar ends (speed 0); returns the number of bar ends allowed so far."""
        async with self._cond:
            self._allowed += max(0, int(n))
            self._cond.notify_all()
            return self._allowed

    async def wait_played(self, count: int) -> None:
        """Return once ``count`` bar ends have been played (or the replay finished)."""
        async with self._cond:
            await self._cond.wait_for(lambda: self.pos >= count or self.finished)

    async def run(self, on_end: Callable[[], Awaitable[None]]) -> None:
        """Play every bar, then mark the end and call ``on_end`` (closes the sockets)."""
        await self.started.wait()
        last_ms: int | None = None
        for _end_ms, members in self.bars:
            if self.speed == 0:
                async with self._cond:
                    await self._cond.wait_for(lambda: self._allowed > self.pos)
            events: list[Event] = []
            for idx, i in members:
                events += bar_events(self.instruments[idx], idx, i, self._volume_before(idx, i))
            events.sort(key=lambda e: (e.ts_ms, e.inst))
            for ev in events:
                if self.speed > 0 and last_ms is not None and 0 < ev.ts_ms - last_ms <= JUMP_MS:
                    await asyncio.sleep((ev.ts_ms - last_ms) / 1000.0 / self.speed)
                last_ms = ev.ts_ms
                inst = self.instruments[ev.inst]
                self.exchange.on_event(inst, ev)
                self._day_volume[ev.inst] = (ist_day(ev.ts_ms), ev.volume)
                await self.broadcast(inst, ev)
            async with self._cond:
                self.pos += 1
                self._cond.notify_all()
        async with self._cond:
            self.finished = True
            self._cond.notify_all()
        await on_end()

    def _volume_before(self, idx: int, i: int) -> float:
        inst = self.instruments[idx]
        day = ist_day(int(inst.ends[i].astype("int64")))
        seen = self._day_volume.get(idx)
        return seen[1] if seen is not None and seen[0] == day else 0.0
