"""``UpstoxFeed``: the Upstox market-data websocket as a Backtrader live feed.

Flow (statuses are Backtrader's, reported through ``notify_data``)::

    CONNECTED -> DELAYED (warm-up history) -> LIVE -> ... -> CONNBROKEN -> CONNECTED
      -> DELAYED (back-fill of the minutes missed) -> LIVE -> ... -> DISCONNECTED

Bars: ticks (:mod:`~mixbot.venues.upstox.ws.protocol`) go through the project's ONE aggregator
class (:class:`~mixbot.feeds.aggregator.BarAggregator`) twice: ticks -> 1-minute bars, then
1-minute bars -> ``interval_minutes`` bars with :meth:`BarAggregator.add_bar` (exactly what a
file backtest does with a 1-minute file). The 1-minute layer is where gaps are repaired:
every minute is either built from ticks or, when the feed missed part of it, replaced by
the exchange's own 1-minute candle from the intraday candle API, so the bars after an
outage are the bars of a run without it.

Clock. "Now" is the EXCHANGE clock: the latest of the server's ``currentTs`` and the ticks'
``ltt`` (epoch ms, UTC), never the local wall clock, so a simulated replay at any speed
closes bars at the right simulated instants. A 1-minute bar closes when the exchange clock
reaches its end (bucket end <= now). When no frame arrives at all, a wall-clock timer
extrapolates the exchange clock at real-time speed and closes the bar ``close_grace_s``
seconds after its end (live trading; a replay at speed >= 1 is never closed early by it;
set ``close_grace_s=None`` for replays slower than real time).

Warm-up and back-fill happen on the first frame after each (re)connect, once the exchange
clock is known: 1-minute candles ending after the last minute already emitted (first
connect: enough sessions for ``lookback_bars`` bars) and up to the last complete minute are
fetched (``candles.fetch_bars(client, key, "1minute", start, end)``), aggregated, and pushed
as DELAYED; the minute in progress is marked "dirty" and replaced by its candle when it
completes. A silent gap while connected (no frame for ``gap_repair_s`` seconds of exchange
or wall time: a server stall) marks the minutes it spans dirty in the same way.

Staleness: :attr:`UpstoxFeed.stale` is True when the feed is not LIVE (connecting, back-
filling, broken), or when the last tick of the instrument was received more than
``stale_after_s`` WALL seconds ago (a stalled socket: the exchange clock stops too, so only
the wall clock can see it), or is more than ``stale_after_s`` seconds older than the
exchange clock (frames still arrive, e.g. market-status heartbeats, but no trade: a halted
or illiquid instrument). The strategy/risk manager consults it before opening positions.

End: when the instrument's segment reports a closed status (``NORMAL_CLOSE`` or later) after
the session close, the day's last bars are closed; then the feed ends (``push_end``) when
the server closes the socket normally (code 1000: the simulator after its replay), or at
once if the day is on/after ``stop_after``. A refused token ends the feed and re-raises
:class:`~mixbot.venues.upstox.http.errors.TokenExpiredError` from ``cerebro.run()``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from mixbot.clock import SYSTEM_CLOCK, Clock
from mixbot.feeds.aggregator import Bar, BarAggregator
from mixbot.feeds.live import LiveFeed
from mixbot.venues.upstox.ws.feed_bars import _EPOCH as _EPOCH
from mixbot.venues.upstox.ws.feed_bars import _MIN as _MIN
from mixbot.venues.upstox.ws.feed_bars import _MS_TD as _MS_TD
from mixbot.venues.upstox.ws.feed_bars import _UTC as _UTC
from mixbot.venues.upstox.ws.feed_bars import CLOSED_STATUSES as CLOSED_STATUSES
from mixbot.venues.upstox.ws.feed_bars import _floor_minute as _floor_minute
from mixbot.venues.upstox.ws.feed_bars import _frame_to_bars as _frame_to_bars
from mixbot.venues.upstox.ws.feed_bars import _SessionWindowMixin
from mixbot.venues.upstox.ws.feed_bars import default_history as default_history
from mixbot.venues.upstox.ws.protocol import FeedFrame, ms_to_utc

log = logging.getLogger(__name__)


class UpstoxFeed(LiveFeed, _SessionWindowMixin):
    """Backtrader live feed of one Upstox instrument.

    Params:
        instrument_key: Upstox key, e.g. ``"NSE_FO|46923"`` (resolve symbols with
            ``InstrumentMaster.resolve``).
        interval_minutes: strategy bar size (minutes; 1440 = daily).
        session_open_min, session_close_min, market_tz: session bounds in minutes after local
            midnight, and their IANA zone (NSE: 555, 930, Asia/Kolkata).
        lookback_bars: strategy bars of history pushed (DELAYED) before going LIVE.
        stale_after_s: staleness threshold, seconds (see the module docstring).
        gap_repair_s: a silence longer than this (exchange or wall seconds) while connected
            marks the minutes it spans for repair from the candle API.
        close_grace_s: wall-clock fallback for closing a bar when no frame arrives (None: off).
        stop_after: a ``datetime.date`` (exchange date): end the feed when that session (or a
            later one) closes; None: run until the server ends the stream.
        client_factory: callable returning an ``UpstoxClient`` (REST: authorize, candles).
        mode: websocket mode (``full`` gives ``vtt``: exact volumes; ``ltpc`` uses ``ltq``).
        history: callable ``(client, key, start_utc, end_utc, now=, cache=) -> list[Bar]`` of
            1-minute bars ending in (start, end]; default :func:`default_history`.
        history_cache: let :func:`candles.fetch_bars` use its on-disk cache (past days only).
        backoff_initial, backoff_max, max_attempts, ping_interval, token_gate: see
            :class:`FeedSocket` (with a token gate a refused token waits for a new login
            instead of ending the feed).
        clock: the wall side (staleness, gap and close-grace timers) as a
            :class:`mixbot.clock.Clock`; None = the real clock (tests pass a ManualClock).
    """

    params = (  # type: ignore[assignment]
        ("instrument_key", None),
        ("interval_minutes", 1),
        ("session_open_min", 555),
        ("session_close_min", 930),
        ("market_tz", "Asia/Kolkata"),
        ("lookback_bars", 0),
        ("stale_after_s", 30.0),
        ("gap_repair_s", 30.0),
        ("close_grace_s", 2.0),
        ("stop_after", None),
        ("client_factory", None),
        ("mode", "full"),
        ("history", None),
        ("history_cache", True),
        ("backoff_initial", 0.5),
        ("backoff_max", 30.0),
        ("token_gate", None),
        ("max_attempts", None),
        ("ping_interval", 20.0),
        ("clock", None),
    )

    def __init__(self, **kwargs: Any) -> None:
        # Backtrader's metaclass has already taken the params out of kwargs
        super().__init__()
        if not self.p.instrument_key:
            raise ValueError("UpstoxFeed: instrument_key is required")
        self.error: BaseException | None = None
        self.socket: Any = None
        self.repaired_minutes = 0
        self.backfilled_minutes = 0
        self.ticks_seen = 0
        self.last_price = 0.0  # the last trade price (LTP) seen, INR; read by the broker
        self._mkt_tz = ZoneInfo(self.p.market_tz)
        self._clock: Clock = self.p.clock or SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._reset_state()

    def _reset_state(self) -> None:
        p = self.p
        self._agg1 = BarAggregator(1, p.session_open_min, p.session_close_min, p.market_tz)
        self._aggN = BarAggregator(
            p.interval_minutes, p.session_open_min, p.session_close_min, p.market_tz
        )
        self._clock_ms = 0
        self._clock_wall = 0.0
        self._frame_wall = 0.0
        self._last_tick_ms = 0
        self._last_tick_wall = 0.0
        self._last_min_end: dt.datetime | None = None
        self._live_from: dt.datetime | None = None
        self._dirty: set[dt.datetime] = set()
        self._need_sync = True
        self._live = False
        self._segment_status: str | None = None
        self._session_over = False
        self._ended = False
        self._client: Any = None

    # ------------------------------------------------------------------ public
    @property
    def stale(self) -> bool:
        """True when entries should be blocked: not LIVE, or no fresh tick (module doc)."""
        return self.stale_reason is not None

    @property
    def stale_reason(self) -> str | None:
        """Why the data is stale (read by ``CustomStrategy`` before an entry), or None."""
        if not self._live:
            return f"feed not live ({self.state_name})"
        if self._last_tick_wall == 0.0:
            return "no tick received yet"
        limit = float(self.p.stale_after_s)
        idle = self._clock.monotonic() - self._last_tick_wall
        if idle > limit:
            return f"no tick for {idle:.1f} s (wall clock; limit {limit:g} s)"
        lag = (self._clock_ms - self._last_tick_ms) / 1000.0
        if lag > limit:
            return f"last trade {lag:.1f} s old on the exchange clock (limit {limit:g} s)"
        return None

    @property
    def exchange_now(self) -> dt.datetime | None:
        """The exchange clock (naive UTC), or None before the first frame."""
        return ms_to_utc(self._clock_ms) if self._clock_ms else None

    # ------------------------------------------------------------------ producer
    def start_producer(self) -> None:
        from mixbot.venues.upstox.ws.ws import FeedSocket

        self._reset_state()
        self.socket = FeedSocket(
            [self.p.instrument_key],
            self.p.mode,
            on_frame=self._on_frame,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_fatal=self._on_fatal,
            on_timer=self._on_timer,
            on_bad_frame=self._on_bad_frame,
            client_factory=self._rest_client,
            backoff_initial=self.p.backoff_initial,
            backoff_max=self.p.backoff_max,
            max_attempts=self.p.max_attempts,
            ping_interval=self.p.ping_interval,
            token_gate=self.p.token_gate,
        )
        self.socket.start()

    def stop(self) -> None:
        super().stop()
        if self.socket is not None:
            self.socket.stop()
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass

    def _load(self) -> bool | None:
        got = super()._load()
        if got is False and self.error is not None:
            raise self.error
        return got

    def _rest_client(self) -> Any:
        if self._client is None:
            factory = self.p.client_factory
            if factory is None:
                from mixbot.venues.upstox.http.client import UpstoxClient

                factory = UpstoxClient
            self._client = factory()
        return self._client

    # ------------------------------------------------------------------ socket callbacks
    def _on_connect(self, n: int) -> None:
        self._need_sync = True
        self._live = False
        self.push_status(self.CONNECTED)

    def _on_disconnect(self, code: int | None, reason: str) -> bool:
        self._live = False
        if self._ended or self.stopping:
            return False
        if code == 1000 and self._session_over:
            log.info("market-data stream ended by the server after the close")
            self._finish()
            return False
        log.warning("market-data feed lost (%s): CONNBROKEN", reason or code)
        self.push_status(self.CONNBROKEN)
        self._need_sync = True
        # the minute in progress is missing ticks from now on: repair it from candles
        if self._clock_ms:
            self._dirty.add(_floor_minute(ms_to_utc(self._clock_ms)) + _MIN)
        return True

    def _on_fatal(self, exc: BaseException) -> None:
        log.error("market-data feed stopped: %s", exc)
        self.error = exc
        self._live = False
        if not self._ended:
            self._ended = True
            self.push_end()

    def _on_bad_frame(self) -> None:
        # a skipped (garbage/truncated) frame may have been a trade of ours: repair the
        # minute in progress and the next one from the candle API
        if self._clock_ms and not self._need_sync:
            m = _floor_minute(ms_to_utc(self._clock_ms)) + _MIN
            self._dirty.update((m, m + _MIN))

    def _on_timer(self) -> None:
        grace = self.p.close_grace_s
        if grace is None or not self._live or not self._clock_ms or self._ended:
            return
        est_ms = (
            self._clock_ms + (self._clock.monotonic() - self._clock_wall - float(grace)) * 1000.0
        )
        now = ms_to_utc(int(est_ms))
        if self._agg1.bar_is_complete(now) or any(d <= now for d in self._dirty):
            self._advance(now)

    def _on_frame(self, frame: FeedFrame) -> None:
        if self._ended:
            return
        wall = self._clock.monotonic()
        key = self.p.instrument_key
        ticks = frame.ticks
        if ticks and len(ticks) == 1:
            mine = ticks if ticks[0].instrument_key == key else []
        else:
            mine = [t for t in ticks if t.instrument_key == key] if ticks else []
        prev_clock = self._clock_ms
        clock = max(prev_clock, frame.current_ms)
        last_ms = 0
        if mine:
            last_ms = (mine[-1].ts_utc - _EPOCH) // _MS_TD
            if last_ms > clock:
                clock = last_ms
        if not clock:
            return
        if clock != prev_clock:
            self._clock_ms = clock
            self._clock_wall = wall
        now = ms_to_utc(clock)
        if self._need_sync:
            self._sync(now)
        elif self._frame_wall and (
            wall - self._frame_wall > self.p.gap_repair_s
            or (clock - prev_clock) > self.p.gap_repair_s * 1000.0
        ):
            self._mark_gap(ms_to_utc(prev_clock), now)
        self._frame_wall = wall
        if mine:
            self.ticks_seen += len(mine)
            self.last_price = float(mine[-1].price)
            self._last_tick_wall = wall
            self._last_tick_ms = max(self._last_tick_ms, last_ms)
            live_from = self._live_from
            agg = self._agg1
            for t in mine:
                ts = t.ts_utc
                if live_from is not None and ts < live_from:
                    continue  # inside minutes already emitted (snapshot of an old trade)
                if agg.bar_is_complete(ts):
                    # a trade at/after the bucket end proves the bucket complete: close it
                    # first, as a file backtest would (post-close prints are then dropped)
                    self._advance(ts)
                    agg = self._agg1
                for b in agg.add_tick(ts, t.price, t.qty):
                    self._emit_minutes([b])
        if frame.market is not None:
            self._on_market(frame.market.status_of(key), now)
        self._advance(now)

    # ------------------------------------------------------------------ bars
    def _history(self, start: dt.datetime, end: dt.datetime) -> list[Bar] | None:
        """1-minute bars ending in (start, end]; None when the API failed (logged)."""
        if end <= start:
            return []
        fn: Callable[..., list[Bar]] = self.p.history or default_history
        try:
            now = ms_to_utc(self._clock_ms) if self._clock_ms else end
            return fn(
                self._rest_client(),
                self.p.instrument_key,
                start,
                end,
                now=now,
                cache=bool(self.p.history_cache),
            )
        except Exception as exc:
            from mixbot.venues.upstox.http.errors import TokenExpiredError

            if isinstance(exc, TokenExpiredError) and self.p.token_gate is None:
                raise  # (with a gate the socket waits for a new login; no bars meanwhile)
            log.warning("candle history %s..%s unavailable: %s", start, end, exc)
            return None

    def _emit_minutes(self, minutes: list[Bar]) -> None:
        """Minute bars (any order) -> the strategy aggregator; dirty ones are replaced."""
        dirty = sorted(d for d in self._dirty if any(b.end == d for b in minutes))
        if dirty:
            fixed = self._history(dirty[0] - _MIN, dirty[-1])
            if fixed:
                by_end = {b.end: b for b in fixed}
                minutes = [by_end.get(b.end, b) if b.end in self._dirty else b for b in minutes]
                self.repaired_minutes += sum(1 for d in dirty if d in by_end)
            for d in dirty:
                self._dirty.discard(d)
        for b in sorted(minutes, key=lambda b: b.end):
            if self._last_min_end is not None and b.end <= self._last_min_end:
                continue
            self._last_min_end = b.end
            done = self._aggN.add_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
            if self._aggN.bar_is_complete(b.end):
                done += self._aggN.flush()
            for bar in done:
                self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)

    def _advance(self, now: dt.datetime) -> None:
        """Close every minute that is complete at exchange time ``now``."""
        out: list[Bar] = []
        if self._agg1.bar_is_complete(now):
            out = self._agg1.flush()
        due = sorted(d for d in self._dirty if d <= now) if self._dirty else None
        if due:
            have = {b.end for b in out}
            missing = [d for d in due if d not in have]
            if missing:
                # dirty minutes without any tick of ours: take them from the candle API
                got = self._history(missing[0] - _MIN, missing[-1]) or []
                out += [b for b in got if b.end in set(missing)]
                self.repaired_minutes += len([b for b in got if b.end in set(missing)])
                for d in missing:
                    self._dirty.discard(d)
        if out:
            self._emit_minutes(out)

    def _sync(self, now: dt.datetime) -> None:
        """Warm-up (first connect) or back-fill (reconnect) up to the last complete minute."""
        self._need_sync = False
        upto = _floor_minute(now)
        first = self._last_min_end is None
        start = self._warmup_start(now) if first else self._last_min_end
        assert start is not None
        self.push_status(self.DELAYED)
        if first and int(self.p.lookback_bars) <= 0:
            bars: list[Bar] | None = []
        else:
            bars = self._history(start, upto)
        if bars is None:
            log.warning(
                "no candles for %s..%s: bars of that span are built from ticks only", start, upto
            )
            if not first and self._agg1.bar_is_complete(upto):
                self._emit_minutes(self._agg1.flush())
        else:
            if self._agg1.bar_is_complete(upto):
                self._agg1 = BarAggregator(
                    1, self.p.session_open_min, self.p.session_close_min, self.p.market_tz
                )  # its partial minute is covered by the candles
            for d in [d for d in self._dirty if d <= upto]:
                self._dirty.discard(d)
            if first:
                self._push_warmup(bars)
            else:
                self.backfilled_minutes += len(bars)
                self._emit_minutes(bars)
        self._live_from = max(upto, self._last_min_end or upto)
        if self._last_min_end is None:
            self._last_min_end = upto
        self._dirty.add(upto + _MIN)  # the minute in progress was partly missed
        self._live = True
        self.push_status(self.LIVE)

    def _push_warmup(self, bars: list[Bar]) -> None:
        done: list[Bar] = []
        agg = self._aggN
        for b in bars:
            if self._last_min_end is not None and b.end <= self._last_min_end:
                continue
            self._last_min_end = b.end
            done += agg.add_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
            if agg.bar_is_complete(b.end):
                done += agg.flush()
        keep = int(self.p.lookback_bars)
        for bar in done[-keep:] if keep > 0 else []:
            self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)

    # ------------------------------------------------------------------ session end
    def _on_market(self, status: str | None, now: dt.datetime) -> None:
        if status is None:
            return
        if status != getattr(self, "_announced", None):
            self._announced = status
            local = now.replace(tzinfo=_UTC).astimezone(self._mkt_tz)
            if status in CLOSED_STATUSES or "OPEN" not in status or "PRE" in status:
                # say so instead of waiting silently (market closed, holiday, pre-open)
                log.warning(
                    "%s: market status %s at %s %s: no live bars until the session opens "
                    "(outside market hours or an exchange holiday)",
                    self.p.instrument_key,
                    status,
                    local.strftime("%Y-%m-%d %H:%M"),
                    self.p.market_tz,
                )
            else:
                log.info("%s: market status %s", self.p.instrument_key, status)
        self._segment_status = status
        _, close = self._session_bounds(now)
        over = status in CLOSED_STATUSES and now >= close
        if over and not self._session_over:
            self._advance(max(now, close))
            for b in self._agg1.flush():
                self._emit_minutes([b])
            for bar in self._aggN.flush():
                self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
            stop_after = self.p.stop_after
            day = now.replace(tzinfo=_UTC).astimezone(self._mkt_tz).date()
            if stop_after is not None and day >= stop_after:
                log.info("session of %s closed (stop_after %s): feed ends", day, stop_after)
                self._finish()
        self._session_over = over or (status in CLOSED_STATUSES and self._session_over)
        if status not in CLOSED_STATUSES:
            self._session_over = False

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._live = False
        for b in self._agg1.flush():
            self._emit_minutes([b])
        for bar in self._aggN.flush():
            self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
        self.push_end()
        if self.socket is not None:
            self.socket.stop()
