"""``YahooFeed``: Yahoo's chart API polled as a Backtrader live feed (data source ``yahoo``).

Flow (Backtrader statuses through ``notify_data``)::

    CONNECTED -> DELAYED (warm-up history) -> LIVE -> ... -> CONNBROKEN (polls fail)
      -> LIVE (the next poll that works catches up) -> ... -> DISCONNECTED

Source bars: 1-minute bars for intraday strategies, daily bars for ``1d``; each goes through
the project's ONE aggregator (:class:`~mixbot.feeds.aggregator.BarAggregator`) exactly as
a replayed file's bars do (``add_bar``, then ``flush`` once the bucket is complete), so a
session on the Yahoo feed sees the bars a replay of the same 1-minute / daily file sees.

Only CLOSED bars are used. Yahoo returns the bar in progress as the last one (partial); a
source bar is closed when a later bar follows it in the answer, or when the exchange clock
has reached its end. The exchange clock is Yahoo's ``regularMarketTime`` (the last trade,
from the chart meta), extrapolated at wall-clock speed since it was read, minus
``close_grace_s`` seconds (a replay faster than real time is never closed early by the
extrapolation). Every poll asks for the bars starting at the last closed bar's end (at most
one request span, :data:`~mixbot.venues.yahoo.client.SPANS`, per request: a feed that was
away catches up in several requests).

Polling: every ``poll_s`` wall seconds; default from the bar size (:func:`poll_seconds`:
a twelfth of the bar, 5 s to 60 s: 1m -> 5 s, 5m -> 25 s, 15m and longer -> 60 s), which
keeps one bot well inside the assumed rate limit (:mod:`~mixbot.venues.yahoo.client`).

Staleness: :attr:`YahooFeed.stale_reason` is set when the feed is not LIVE, when no poll has
succeeded for ``stale_after_s`` wall seconds, or when, inside the session, Yahoo's
``regularMarketTime`` has not moved for ``stale_after_s`` wall seconds (a halted instrument
or a frozen Yahoo). The strategy refuses entries while it is set.

End: with ``stop_after`` (the config's ``data.to``, an exchange date) the feed ends
(``push_end``) once the exchange clock is past that day's session close and its last bar
is out.
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
from mixbot.venues.yahoo.client import SPANS, Chart, YahooError, YahooUnavailable

log = logging.getLogger(__name__)
_UTC = dt.UTC


def poll_seconds(interval_minutes: int) -> float:
    """Default poll period for a bar size: interval / 12, clamped to 5..60 wall seconds."""
    return float(min(60.0, max(5.0, interval_minutes * 60 / 12)))


class YahooFeed(LiveFeed):
    """Polling Yahoo feed (see the module docstring).

    Params:
        symbol: Yahoo ticker (``RELIANCE.NS``).
        interval_minutes: strategy bar size (1440 = daily).
        session_open_min, session_close_min, market_tz: the session (IST 09:15-15:30).
        lookback_bars: warm-up bars pushed DELAYED before going LIVE (0 = none: the first
            poll starts at the current session's open).
        stale_after_s: see the module doc (wall seconds).
        poll_s: poll period, wall seconds (None = :func:`poll_seconds`).
        close_grace_s: seconds after a bar's end before the extrapolated clock closes it.
        stop_after: last exchange date (``datetime.date``), or None (run until stopped).
        client_factory: ``(sleep) -> ChartClient``-like object with ``chart`` / ``probe``.
        clock: wall time and waits (tests pass a manual clock).
    """

    params = (  # type: ignore[assignment]
        ("symbol", ""),
        ("interval_minutes", 1),
        ("session_open_min", 555),
        ("session_close_min", 930),
        ("market_tz", "Asia/Kolkata"),
        ("lookback_bars", 0),
        ("stale_after_s", 120.0),
        ("poll_s", None),
        ("close_grace_s", 5.0),
        ("stop_after", None),
        ("client_factory", None),
        ("clock", None),
    )

    def __init__(self) -> None:
        super().__init__()
        self._clock: Clock = self.p.clock or SYSTEM_CLOCK
        self._mkt_tz = ZoneInfo(self.p.market_tz)
        self.source = "1d" if self.p.interval_minutes >= 1440 else "1m"
        self._src_delta = dt.timedelta(days=1) if self.source == "1d" else dt.timedelta(minutes=1)
        self.poll_period = float(self.p.poll_s or poll_seconds(int(self.p.interval_minutes)))
        self.error: BaseException | None = None
        self.polls = 0
        self.failed_polls = 0
        self._reset()

    def _reset(self) -> None:
        self._agg = BarAggregator(
            int(self.p.interval_minutes),
            int(self.p.session_open_min),
            int(self.p.session_close_min),
            self.p.market_tz,
        )
        self._last_end: dt.datetime | None = None  # end of the last closed source bar
        self._market: dt.datetime | None = None  # Yahoo's regularMarketTime, naive UTC
        self._market_mono = 0.0  # monotonic time it was read
        self._progress_mono = 0.0  # monotonic time it last moved forward
        self._ok_mono = 0.0  # monotonic time of the last poll that worked
        self._live = False
        self._ended = False
        self._thread: threading.Thread | None = None
        self._client: Any = None

    # ------------------------------------------------------------------ public
    @property
    def stale(self) -> bool:
        """True when entries should be blocked (see :attr:`stale_reason`)."""
        return self.stale_reason is not None

    @property
    def stale_reason(self) -> str | None:
        """Why the data is stale, or None (module doc)."""
        if not self._live:
            return f"feed not live ({self.state_name})"
        now = self._clock.monotonic()
        limit = float(self.p.stale_after_s)
        if now - self._ok_mono > limit:
            return f"no answer from Yahoo for {now - self._ok_mono:.0f} s (limit {limit:g} s)"
        est = self.exchange_now
        if est is not None and self._in_session(est) and now - self._progress_mono > limit:
            return (
                f"Yahoo's last trade time has not moved for {now - self._progress_mono:.0f} s "
                f"(limit {limit:g} s)"
            )
        return None

    @property
    def exchange_now(self) -> dt.datetime | None:
        """The extrapolated exchange clock (naive UTC; module doc), None before a poll."""
        if self._market is None:
            return None
        return self._market + dt.timedelta(seconds=self._clock.monotonic() - self._market_mono)

    # ------------------------------------------------------------------ producer
    def start_producer(self) -> None:
        self._reset()
        self._thread = threading.Thread(target=self._run, name="yahoo-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        super().stop()
        client = self._client
        if client is not None and hasattr(client, "close"):
            client.close()

    def _load(self) -> bool | None:
        got = super()._load()
        if got is False and self.error is not None:
            raise self.error
        return got

    def _make_client(self) -> Any:
        def sleep(seconds: float) -> None:
            self._clock.wait(self._stop_event, seconds)

        factory: Callable[..., Any] | None = self.p.client_factory
        if factory is None:
            from mixbot.venues.yahoo.client import ChartClient, default_limiter

            return ChartClient(limiter=default_limiter(), sleep=sleep)
        return factory(sleep)

    def _run(self) -> None:
        try:
            self._client = self._make_client()
            self.push_status(self.CONNECTED)
            self._warm_up()
            while not self.stopping and not self._ended:
                self._poll()
                if self._ended or self._clock.wait(self._stop_event, self.poll_period):
                    break
        except YahooError as exc:  # a refusal that retrying cannot fix (bad symbol, ...)
            log.error("Yahoo feed %s stopped: %s", self.p.symbol, exc)
            self.error = exc
            self._finish()
        except Exception as exc:  # noqa: BLE001 - reported through cerebro.run()
            log.exception("Yahoo feed %s crashed", self.p.symbol)
            self.error = exc
            self._finish()

    # ------------------------------------------------------------------ polling
    def _observe(self, chart: Chart) -> None:
        mono = self._clock.monotonic()
        self._ok_mono = mono
        t = chart.market_time
        if t is not None and (self._market is None or t > self._market):
            self._market, self._market_mono, self._progress_mono = t, mono, mono
        elif self._market is None:
            self._market, self._market_mono = t, mono

    def _warm_up(self) -> None:
        """Read the exchange clock, push ``lookback_bars`` warm-up bars as DELAYED."""
        while not self.stopping:
            try:
                probe = self._client.probe(self.p.symbol)
                break
            except YahooUnavailable as exc:
                self._broken(exc)
                if self._clock.wait(self._stop_event, self.poll_period):
                    return
        else:
            return
        self._observe(probe)
        now = self._market or probe.market_time
        assert now is not None
        self.push_status(self.DELAYED)
        start = self._warmup_start(now)
        self._last_end = start
        bars = self._fetch_closed(start)
        keep = int(self.p.lookback_bars)
        done: list[Bar] = []
        for b in bars:
            done += self._add(b)
        for bar in done[-keep:] if keep > 0 else []:
            self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
        self._live = True
        self.push_status(self.LIVE)

    def _warmup_start(self, now: dt.datetime) -> dt.datetime:
        """Where history starts: the current session's open (no lookback), else far enough
        back for ``lookback_bars`` bars (within what Yahoo serves for the source interval)."""
        local = now.replace(tzinfo=_UTC).astimezone(self._mkt_tz)
        open_min = int(self.p.session_open_min)
        day_open = dt.datetime.combine(
            local.date(), dt.time(open_min // 60, open_min % 60), self._mkt_tz
        )
        if int(self.p.lookback_bars) <= 0:
            start = day_open
        else:
            per_day = max(1, int(self.p.session_close_min) - open_min)
            minutes = int(self.p.lookback_bars) * min(int(self.p.interval_minutes), per_day)
            sessions = -(-minutes // per_day) + 1
            start = day_open - dt.timedelta(days=sessions * 7 // 5 + 4)
            back = SPANS[self.source][1]
            if back is not None:
                start = max(start, local - back + dt.timedelta(hours=1))
        # the source bar ending at `start` is the last one taken as already seen
        return start.astimezone(_UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)

    def _fetch_closed(self, since: dt.datetime) -> list[Bar]:
        """Closed source bars ending after ``since`` (requests of at most one span)."""
        span = SPANS[self.source][0] or dt.timedelta(days=3650)
        out: list[Bar] = []
        start = since
        while not self.stopping:
            upto = start + span
            chart = self._client.chart(
                self.p.symbol, self.source, start, upto, self._session_close_time()
            )
            self._observe(chart)
            got = self._closed(chart)
            out += [b for b in got if b.end > since and (not out or b.end > out[-1].end)]
            est = self.exchange_now or upto
            if upto >= est:
                break
            start = out[-1].end if out else upto
        return out

    def _closed(self, chart: Chart) -> list[Bar]:
        frame = chart.bars
        if frame is None or frame.empty:
            return []
        limit = self._close_limit()
        ends = list(frame.index.to_pydatetime())
        cols = [frame[c].tolist() for c in ("open", "high", "low", "close", "volume")]
        out = []
        for k, end in enumerate(ends):
            followed = k + 1 < len(ends)
            if followed or (limit is not None and end <= limit):
                out.append(Bar(end, cols[0][k], cols[1][k], cols[2][k], cols[3][k], cols[4][k]))
        return out

    def _close_limit(self) -> dt.datetime | None:
        """Bars ending at or before this (naive UTC) are closed: Yahoo's last trade time, or
        the extrapolated exchange clock minus the grace, whichever is later."""
        est = self.exchange_now
        if est is None or self._market is None:
            return None
        return max(self._market, est - dt.timedelta(seconds=float(self.p.close_grace_s)))

    def _add(self, b: Bar) -> list[Bar]:
        """One closed source bar -> the strategy bars it completes (the replay's rule)."""
        if self._last_end is not None and b.end <= self._last_end:
            return []
        self._last_end = b.end
        done = self._agg.add_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
        if self._agg.bar_is_complete(b.end):
            done += self._agg.flush()
        return done

    def _poll(self) -> None:
        self.polls += 1
        try:
            bars = self._fetch_closed(self._last_end or dt.datetime(1970, 1, 1))
        except YahooUnavailable as exc:
            self._broken(exc)
            return
        if not self._live:
            self._live = True
            self.push_status(self.LIVE)
        for b in bars:
            for bar in self._add(b):
                self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
        self._after_close()

    def _broken(self, exc: BaseException) -> None:
        self.failed_polls += 1
        log.warning("Yahoo poll of %s failed: %s", self.p.symbol, exc)
        if self._live or self._state != self.CONNBROKEN:
            self._live = False
            self.push_status(self.CONNBROKEN)

    # ------------------------------------------------------------------ session
    def _session_close_time(self) -> dt.time:
        m = int(self.p.session_close_min)
        return dt.time(m // 60, m % 60)

    def _bounds(self, t: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        day = t.replace(tzinfo=_UTC).astimezone(self._mkt_tz).date()
        o, c = int(self.p.session_open_min), int(self.p.session_close_min)

        def mk(m: int) -> dt.datetime:
            local = dt.datetime.combine(day, dt.time(m // 60, m % 60), self._mkt_tz)
            return local.astimezone(_UTC).replace(tzinfo=None)

        return mk(o), mk(c)

    def _in_session(self, t: dt.datetime) -> bool:
        o, c = self._bounds(t)
        return o <= t < c and t.replace(tzinfo=_UTC).astimezone(self._mkt_tz).weekday() < 5

    def _after_close(self) -> None:
        """At/after the close: emit the day's last bar; end after ``stop_after``'s close."""
        est = self._close_limit()
        if est is None:
            return
        _, close = self._bounds(est)
        if est >= close and self._agg.bar_is_complete(close):
            for bar in self._agg.flush():
                self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
        stop_after = self.p.stop_after
        day = est.replace(tzinfo=_UTC).astimezone(self._mkt_tz).date()
        if stop_after is not None and (day > stop_after or (day == stop_after and est >= close)):
            log.info(
                "Yahoo feed %s: past the close of %s (data.to): ends", self.p.symbol, stop_after
            )
            self._finish()

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        # (still "live" for the bars already queued: the strategy may be behind the poller)
        for bar in self._agg.flush():
            self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
        self.push_end()
