"""The ``replay`` source: a bar file played as a live session through :class:`LiveFeed`.

``speed`` 0 plays as fast as the engine consumes; 1 is wall clock (a 1-minute bar every
minute); N is N times faster. Time between sessions (nights, weekends) is skipped, not
waited. With ``replay_as="ticks"`` each file bar becomes four ticks (open, then low and high
in the order a bar that closed up/down most plausibly took, then close; all volume on the
close tick) fed to the same :class:`~mixbot.feeds.aggregator.BarAggregator` that live ticks
use, so the bars the strategy sees are identical to ``replay_as="bars"``.

Paced replays of several bots can be aligned on one wall clock: with ``epoch`` (or the
environment variable :data:`EPOCH_ENV`, epoch seconds) the first bar is released at that
instant and bar *k* at ``epoch + (replayed time up to k) / speed``, so bots replaying the
same minutes get each bar at the same moment (``benchmarks/supervisor.py`` uses it).

Waits and the epoch go through ``clock`` (a :class:`mixbot.clock.Clock`; default the real
clock); tests pass a :class:`mixbot.clock.ManualClock` and assert the waits exactly.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from mixbot.clock import SYSTEM_CLOCK, Clock
from mixbot.feeds.aggregator import BarAggregator
from mixbot.feeds.live import LiveFeed
from mixbot.feeds.series import BarSeries

#: Environment variable: wall-clock epoch (seconds) aligning paced replays (see the module doc).
EPOCH_ENV = "MIXBOT_REPLAY_EPOCH"


class ReplayFeed(LiveFeed):
    """Replay a file as a live session.

    Params:
        series: the source bars (file bars, before aggregation to the strategy interval).
        interval_minutes: strategy bar size; source bars are aggregated to it.
        speed: 0 = fast as possible, 1 = wall clock, N = N x faster.
        as_ticks: split bars into ticks through the aggregator.
        session_open_min, session_close_min, market_tz: session alignment (IST for NSE).
        start_at: index of the first source bar to play (crash-recovery resumes use it).
        epoch: wall-clock time (epoch seconds) of the first bar of a paced replay; None =
            ``$MIXBOT_REPLAY_EPOCH`` when set, else each bar waits after the previous one.
        clock: where paced waits and the epoch's "now" come from (None = the real clock).
    """

    # Backtrader's metaclass merges these with LiveFeed's params (a tuple of pairs is its API)
    params = (  # type: ignore[assignment]
        ("series", None),
        ("interval_minutes", 1),
        ("speed", 0.0),
        ("as_ticks", False),
        ("session_open_min", 555),
        ("session_close_min", 930),
        ("market_tz", "Asia/Kolkata"),
        ("start_at", 0),
        ("epoch", None),
        ("clock", None),
    )

    def start_producer(self) -> None:
        env = os.environ.get(EPOCH_ENV, "").strip()
        self._epoch: float | None = self.p.epoch or (float(env) if env else None)
        self._due = 0.0
        self._clock: Clock = self.p.clock or SYSTEM_CLOCK
        self._thread = threading.Thread(target=self._produce, name="mixbot-replay", daemon=True)
        self._thread.start()

    def _sleep_until(self, gap_s: float) -> bool:
        if self.p.speed <= 0 or gap_s <= 0:
            return not self.stopping
        # skip the time between sessions: never wait more than one bar's worth
        gap_s = min(gap_s, max(self.p.interval_minutes * 60.0, 60.0))
        if self._epoch is not None:
            self._due += gap_s / self.p.speed
            left = self._epoch + self._due - self._clock.time()
            return not self._clock.wait(self._stop_event, left)
        return not self._clock.wait(self._stop_event, gap_s / self.p.speed)

    def _produce(self) -> None:
        s: BarSeries = self.p.series
        self.push_status(self.CONNECTED)
        self.push_status(self.LIVE)
        agg = BarAggregator(
            self.p.interval_minutes,
            self.p.session_open_min,
            self.p.session_close_min,
            self.p.market_tz,
        )
        step = int(s.source_interval_s)
        direct = step >= self.p.interval_minutes * 60 and not self.p.as_ticks
        ends = s.end.astype("datetime64[us]").astype(object)
        cols = [a.tolist() for a in (s.open, s.high, s.low, s.close, s.volume)]
        secs = (s.end.astype("datetime64[s]").astype(np.int64)).tolist()
        prev = None
        if self._epoch is not None and self.p.speed > 0:
            self._clock.wait(self._stop_event, self._epoch - self._clock.time())
        for k in range(int(self.p.start_at), len(s)):
            if prev is not None and not self._sleep_until(secs[k] - prev):
                return
            prev = secs[k]
            o, h, lo, c, v = cols[0][k], cols[1][k], cols[2][k], cols[3][k], cols[4][k]
            t = ends[k]
            if direct:
                if not self.push_bar(t, o, h, lo, c, v):
                    return
                continue
            if self.p.as_ticks:
                import datetime as dt

                span = min(step, (self.p.session_close_min - self.p.session_open_min) * 60)
                start = t - dt.timedelta(seconds=span)
                mid1, mid2 = (lo, h) if c >= o else (h, lo)
                done = []
                for j, (price, qty) in enumerate(((o, 0.0), (mid1, 0.0), (mid2, 0.0), (c, v))):
                    # tick times inside the bar: just after its start .. its end (exclusive)
                    ts = start + dt.timedelta(seconds=span * (j + 0.5) / 4.0)
                    done += agg.add_tick(ts, price, qty)
            else:
                done = agg.add_bar(t, o, h, lo, c, v)
            if agg.bar_is_complete(t):
                done += agg.flush()
            for b in done:
                if not self.push_bar(b.end, b.open, b.high, b.low, b.close, b.volume):
                    return
        for b in agg.flush():
            self.push_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
        self.push_end()
