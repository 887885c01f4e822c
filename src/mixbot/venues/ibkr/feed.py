"""``IbkrFeed``: Interactive Brokers bars as a Backtrader live feed (data source ``ibkr``).

Flow (Backtrader statuses through ``notify_data``)::

    CONNECTED -> DELAYED (warm-up: reqHistoricalData 1-minute bars) -> LIVE (reqRealTimeBars)
      -> ... -> DISCONNECTED (end of data)

Bars. Live bars are IB's 5-second real-time bars (``reqRealTimeBars``, bar START time in
epoch seconds, UTC). They are gathered into 1-minute bars (a minute is complete when its
last 5-second bar, starting at :59/:55 ... i.e. ``end - 5 s``, arrives, or when a bar of a
later minute arrives), and the minutes go through the project's aggregator
(:class:`~mixbot.feeds.aggregator.BarAggregator`, ``add_bar`` + ``bar_is_complete``: exactly
what a file backtest does with a 1-minute file) to ``interval_minutes`` bars aligned to the
session open; bar times pushed are bar END times, naive UTC. Warm-up: 1-minute history
(``durationStr`` in whole days, enough for ``lookback_bars``), aggregated the same way, the
last ``lookback_bars`` pushed as DELAYED.

Acknowledgement: after each complete minute the feed sends ``reqCurrentTime`` once the
engine has processed the bars that minute produced (the next call of ``_load``). Real TWS
just answers with its time (one message a minute, far under IB's 50 per second); the local
simulator at speed 0 waits for it before the next minute (lockstep: a replay is as fast as
the bot and never depends on machine speed).

End: the feed ends after the session close of ``stop_after`` (a local exchange date), or
when IB reports error 162 with ``end of replay`` on the bar subscription (the simulator
after its last minute). Other errors on the subscription end the feed with an
:class:`~mixbot.venues.ibkr.session.IbkrError` raised from ``cerebro.run()``. A lost
connection reports CONNBROKEN; the bars of the outage are not back-filled in this version.

Staleness: :attr:`stale_reason` is not None while the feed is not LIVE or no 5-second bar
came for ``stale_after_s`` wall seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import time
from typing import Any
from zoneinfo import ZoneInfo

from mixbot.feeds.aggregator import Bar, BarAggregator
from mixbot.feeds.live import LiveFeed
from mixbot.venues.ibkr.session import IbkrError

log = logging.getLogger(__name__)

_ACK = object()
_UTC = dt.UTC


class _AckQueue(queue.Queue):  # type: ignore[type-arg]
    """The feed's bar queue: an ``_ACK`` item taken off it calls ``on_ack`` (the engine has
    processed everything queued before it) and is not handed to ``_load``."""

    def __init__(self, maxsize: int, on_ack: Any) -> None:
        super().__init__(maxsize)
        self.on_ack = on_ack

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        while True:
            item = super().get(block, timeout)
            if item is _ACK:
                self.on_ack()
                continue
            return item


class IbkrFeed(LiveFeed):
    """Backtrader live feed of one IB contract (see the module docstring).

    Params:
        session: the :class:`~mixbot.venues.ibkr.session.IbkrSession`.
        symbol: ``data.symbol`` (qualified through the session's config).
        interval_minutes: strategy bar size, minutes.
        session_open_min, session_close_min, market_tz: session bounds (minutes after local
            midnight) and their IANA zone.
        lookback_bars: strategy bars of history pushed before going LIVE.
        stop_after: ``datetime.date``: end after that local date's session close; None: run
            until the end-of-replay signal.
        stale_after_s: staleness threshold, wall seconds.
        use_rth: history restricted to regular trading hours.
    """

    params = (  # type: ignore[assignment]
        ("session", None),
        ("symbol", ""),
        ("interval_minutes", 1),
        ("session_open_min", 555),
        ("session_close_min", 930),
        ("market_tz", "Asia/Kolkata"),
        ("lookback_bars", 0),
        ("stop_after", None),
        ("stale_after_s", 60.0),
        ("use_rth", True),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        if self.p.session is None:
            raise ValueError("IbkrFeed: session is required")
        self._q = _AckQueue(self.p.maxqueue, self._send_ack)
        self.error: BaseException | None = None
        self.contract: Any = None
        self.last_price = 0.0
        self.rt_bars = 0
        self._tz = ZoneInfo(self.p.market_tz)
        self._bars: Any = None
        self._ended = False
        self._live = False
        self._last_rt_wall = 0.0
        self._min: list[float] | None = None  # open minute: [end_s, o, h, l, c, v]
        self._agg = self._new_agg()

    def _new_agg(self) -> BarAggregator:
        p = self.p
        return BarAggregator(
            p.interval_minutes, p.session_open_min, p.session_close_min, p.market_tz
        )

    # ------------------------------------------------------------------ public
    @property
    def stale_reason(self) -> str | None:
        """Why the data is stale (read before an entry), or None."""
        if not self._live:
            return f"feed not live ({self.state_name})"
        idle = time.monotonic() - self._last_rt_wall
        if self._last_rt_wall and idle > float(self.p.stale_after_s):
            return f"no real-time bar for {idle:.1f} s (limit {self.p.stale_after_s:g} s)"
        return None

    @property
    def stale(self) -> bool:
        return self.stale_reason is not None

    # ------------------------------------------------------------------ producer
    def start_producer(self) -> None:
        """Connect, qualify, warm up, subscribe (blocking; the engine thread).

        Raises:
            IbkrError: connection, contract or history failed.
        """
        s = self.p.session
        self.push_status(self.CONNECTED)
        self.contract = s.contract(self.p.symbol)
        self.push_status(self.DELAYED)
        if int(self.p.lookback_bars) > 0:
            self._warm_up()
        s.call(self._subscribe)
        self._live = True
        self.push_status(self.LIVE)

    def _warm_up(self) -> None:
        s = self.p.session
        per_day = max(1, (self.p.session_close_min - self.p.session_open_min))
        days = -(-int(self.p.lookback_bars) * int(self.p.interval_minutes) // per_day) + 1
        bars = s.call(
            s.ib.reqHistoricalDataAsync,
            self.contract,
            "",
            f"{min(days, 30)} D",
            "1 min",
            "TRADES",
            bool(self.p.use_rth),
            2,
            timeout=120,
        )
        done: list[Bar] = []
        for b in bars or []:
            end = _naive(b.date) + dt.timedelta(minutes=1)
            done += self._minute(end, b.open, b.high, b.low, b.close, float(b.volume))
        keep = int(self.p.lookback_bars)
        for bar in done[-keep:]:
            self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
        if bars:
            self.last_price = float(bars[-1].close)

    def _subscribe(self) -> None:
        """On the session loop: the 5-second bar subscription and the error hook."""
        ib = self.p.session.ib
        self._bars = ib.reqRealTimeBars(self.contract, 5, "TRADES", False)
        self._bars.updateEvent += self._on_rt
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnect

    def _unsubscribe(self) -> None:
        ib = self.p.session.ib
        ib.errorEvent -= self._on_error
        ib.disconnectedEvent -= self._on_disconnect
        if self._bars is not None:
            self._bars.updateEvent -= self._on_rt
            if ib.isConnected():
                ib.cancelRealTimeBars(self._bars)

    def stop(self) -> None:
        super().stop()
        try:
            self.p.session.call(self._unsubscribe, timeout=5)
        except Exception:  # noqa: BLE001 - stopping anyway
            pass

    def _load(self) -> bool | None:
        got = super()._load()
        if got is False and self.error is not None:
            raise self.error
        return got

    def _send_ack(self) -> None:
        s = self.p.session
        s.post(lambda: s.ib.client.reqCurrentTime() if s.ib.isConnected() else None)

    # ------------------------------------------------------------------ session-loop side
    def _on_rt(self, bars: Any, has_new: bool) -> None:
        if self._ended or not has_new:
            return
        b = bars[-1]
        self.rt_bars += 1
        self._last_rt_wall = time.monotonic()
        self.last_price = float(b.close)
        start = int(b.time.timestamp())
        end_min = (start // 60) * 60 + 60
        cur = self._min
        if cur is not None and cur[0] != end_min:
            self._close_minute()
            cur = None
        if cur is None:
            self._min = [end_min, b.open_, b.high, b.low, b.close, float(b.volume)]
        else:
            cur[2], cur[3] = max(cur[2], b.high), min(cur[3], b.low)
            cur[4], cur[5] = b.close, cur[5] + float(b.volume)
        if start + 5 >= end_min:
            self._close_minute()

    def _close_minute(self) -> None:
        m, self._min = self._min, None
        if m is None:
            return
        end = dt.datetime.fromtimestamp(int(m[0]), _UTC).replace(tzinfo=None)
        for bar in self._minute(end, m[1], m[2], m[3], m[4], m[5]):
            self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
            if self._is_last(bar.end):
                self._finish()
                return
        self._q.put(_ACK)

    def _minute(
        self, end: dt.datetime, o: float, h: float, lo: float, c: float, v: float
    ) -> list[Bar]:
        """One 1-minute bar into the aggregator (``aggregate_frame``'s rule); the strategy
        bars it completes."""
        done = self._agg.add_bar(end, o, h, lo, c, v)
        if self._agg.bar_is_complete(end):
            done += self._agg.flush()
        return done

    def _is_last(self, end: dt.datetime) -> bool:
        stop_after = self.p.stop_after
        if stop_after is None:
            return False
        local = end.replace(tzinfo=_UTC).astimezone(self._tz)
        close = self.p.session_close_min
        return local.date() > stop_after or (
            local.date() == stop_after and local.hour * 60 + local.minute >= close
        )

    def _on_error(self, req_id: int, code: int, text: str, contract: Any = None) -> None:
        if self._bars is None or req_id != self._bars.reqId or self._ended:
            return
        if code == 162 and "end of replay" in text:
            log.info("IBKR: end of replay: feed ends")
        else:
            self.error = IbkrError(f"IBKR real-time bars of {self.p.symbol}: error {code}: {text}")
            log.error("%s", self.error)
        self._finish()

    def _on_disconnect(self) -> None:
        if not self._ended and not self.stopping:
            log.warning("IBKR: connection lost: CONNBROKEN")
            self._live = False
            self.push_status(self.CONNBROKEN)
            self.error = IbkrError("IBKR: connection to TWS / IB Gateway lost")
            self._finish()

    def _finish(self) -> None:
        """End the feed: the bar in progress (as a file backtest's end of data), then the
        end marker."""
        if self._ended:
            return
        self._ended = True
        self._live = False
        self._min = None
        for bar in self._agg.flush():
            self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
        self.push_end()


def _naive(when: Any) -> dt.datetime:
    """An aware datetime (or date) as naive UTC."""
    if isinstance(when, dt.datetime):
        if when.tzinfo is not None:
            when = when.astimezone(_UTC).replace(tzinfo=None)
        return when
    return dt.datetime(when.year, when.month, when.day)
