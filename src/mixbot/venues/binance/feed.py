"""``BinanceFeed``: Binance spot klines over the market websocket (``ccxt.pro``
``watch_ohlcv``) as a Backtrader live feed, warmed up and back-filled from REST klines.

Flow (Backtrader statuses, reported through ``notify_data``)::

    CONNECTED -> DELAYED (warm-up / back-fill from REST) -> LIVE -> ... -> CONNBROKEN
      -> CONNECTED -> DELAYED (the minutes missed) -> LIVE -> ... -> DISCONNECTED

Only closed candles are emitted. ccxt's ``watch_ohlcv`` drops Binance's closed flag
(``k.x``), so a 1-minute candle counts as closed when a candle with a later open time
arrives, or, when none comes, once the estimated exchange time passes its end plus
``close_grace_s`` (the exchange time is the server's ``/api/v3/time`` at the last sync
plus the wall time since; None switches this timer off, e.g. for replays slower than real
time). A later candle more than one minute ahead means minutes were missed: they are
fetched from REST klines (``fetch_ohlcv``) before it, as are the minutes missed while the
socket was down (after each reconnect, every kline REST answers that opened before the
first candle of the new socket is closed).

Bars: 1-minute candles, pushed directly when ``interval_minutes`` is 1, else through the
project's :class:`~mixbot.feeds.aggregator.BarAggregator` (``add_bar`` then flush when
complete), exactly as the replay feed plays a 1-minute file, so both build the same bars.
Bar times: END times, naive UTC. Prices in the quote asset (USDT), volumes in the base
asset (BTC).

End: with ``stop_after`` (a date in ``market_tz``) the feed ends before the first bar that
ends on a later date. Ccxt errors (network, 429 after ccxt's own retries) reconnect with
exponential backoff up to ``backoff_max`` seconds; ``max_attempts`` failed attempts in a
row end the feed (the error is re-raised from ``cerebro.run()``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import threading
import time
from typing import Any
from zoneinfo import ZoneInfo

from mixbot.feeds.aggregator import Bar, BarAggregator
from mixbot.feeds.live import LiveFeed

log = logging.getLogger(__name__)
_MIN_MS = 60_000
_EPOCH = dt.datetime(1970, 1, 1)


def ms_to_utc(ms: int) -> dt.datetime:
    """Epoch ms -> naive UTC datetime."""
    return _EPOCH + dt.timedelta(milliseconds=int(ms))


class BinanceFeed(LiveFeed):
    """Backtrader live feed of one Binance spot symbol.

    Params:
        symbol: Binance symbol id (``BTCUSDT``) or ccxt symbol (``BTC/USDT``).
        interval_minutes: strategy bar size, minutes (1440 = daily).
        session_open_min, session_close_min, market_tz: bar alignment of the aggregator
            (minutes after local midnight and their IANA zone; 24/7 UTC: 0, 1439, UTC).
        lookback_bars: strategy bars of REST history pushed (DELAYED) before going LIVE.
        stale_after_s: no candle update for this many wall seconds makes the feed stale.
        close_grace_s: see the module docstring (None: off).
        stop_after: ``datetime.date`` in ``market_tz``: end after that day's last bar.
        binance: the :class:`~mixbot.venues.binance.config.BinanceConfig` (hosts, budget).
        backoff_initial, backoff_max: reconnect delays, seconds.
        max_attempts: failed connects in a row before the feed gives up (None: never).
    """

    params = (  # type: ignore[assignment]
        ("symbol", "BTCUSDT"),
        ("interval_minutes", 1),
        ("session_open_min", 0),
        ("session_close_min", 1439),
        ("market_tz", "UTC"),
        ("lookback_bars", 0),
        ("stale_after_s", 120.0),
        ("close_grace_s", 5.0),
        ("stop_after", None),
        ("binance", None),
        ("backoff_initial", 0.5),
        ("backoff_max", 30.0),
        ("max_attempts", None),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.error: BaseException | None = None
        self.last_price = 0.0  # last candle close seen, quote units; read by brokers
        self.backfilled_minutes = 0
        self.reconnects = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live = False
        self._ended = False
        self._pending: list[float] | None = None  # [open_ms, o, h, l, c, v]
        self._last_open: int | None = None  # open ms of the last minute emitted
        self._server_ms = 0
        self._server_wall = 0.0
        self._update_wall = 0.0
        p = self.p
        self._agg = BarAggregator(p.interval_minutes, p.session_open_min, p.session_close_min,
                                  p.market_tz)  # fmt: skip
        self._stop_end: dt.datetime | None = None
        if p.stop_after is not None:
            nxt = dt.datetime.combine(p.stop_after + dt.timedelta(days=1), dt.time(),
                                      ZoneInfo(p.market_tz))  # fmt: skip
            self._stop_end = nxt.astimezone(dt.UTC).replace(tzinfo=None)

    # ------------------------------------------------------------------ public
    @property
    def stale(self) -> bool:
        return self.stale_reason is not None

    @property
    def stale_reason(self) -> str | None:
        """Why entries should wait (not LIVE, or no candle update for stale_after_s), or None."""
        if not self._live:
            return f"feed not live ({self.state_name})"
        if self._ended:
            return None  # every bar is queued; the strategy is catching up with them
        idle = time.monotonic() - self._update_wall
        if idle > float(self.p.stale_after_s):
            return f"no candle update for {idle:.1f} s (limit {self.p.stale_after_s:g} s)"
        return None

    # ------------------------------------------------------------------ producer
    def start_producer(self) -> None:
        self._thread = threading.Thread(target=self._produce, name="binance-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        super().stop()
        if self._thread is not None:
            self._thread.join(15)

    def _load(self) -> bool | None:
        got = super()._load()
        if got is False and self.error is not None:
            raise self.error
        return got

    def _produce(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        except BaseException as exc:  # noqa: BLE001 - reported through cerebro.run()
            log.error("Binance feed stopped: %s", exc)
            self.error = exc
            self._finish()
        finally:
            loop.close()

    async def _run(self) -> None:
        from mixbot.venues.binance.client import make_pro

        ex = make_pro(self.p.binance)
        failures = 0
        try:
            while not self.stopping and not self._ended:
                try:
                    await self._session(ex)
                    failures = 0
                except Exception as exc:  # ccxt errors: reconnect
                    import ccxt

                    if not isinstance(exc, ccxt.BaseError | OSError):
                        raise
                    if self.stopping or self._ended:
                        break
                    failures += 1
                    self._live = False
                    self.reconnects += 1
                    self.push_status(self.CONNBROKEN)
                    if self.p.max_attempts is not None and failures >= int(self.p.max_attempts):
                        raise
                    delay = min(float(self.p.backoff_max),
                                float(self.p.backoff_initial) * 2 ** (failures - 1))  # fmt: skip
                    log.warning("Binance feed lost (%s): reconnect in %.1f s", exc, delay)
                    await self._sleep(delay * (0.5 + random.random() / 2))
        finally:
            await ex.close()
        self._finish()

    async def _sleep(self, s: float) -> None:
        end = time.monotonic() + s
        while not self.stopping and time.monotonic() < end:
            await asyncio.sleep(min(0.2, end - time.monotonic()))

    async def _session(self, ex: Any) -> None:
        """One socket's life: subscribe, sync from REST on the first candle, stream."""
        await ex.load_markets()
        sym = self._symbol(ex)
        self.push_status(self.CONNECTED)
        await self._sync(ex, sym)
        task: asyncio.Future[Any] | None = None
        while not self.stopping and not self._ended:
            if task is None:
                task = asyncio.ensure_future(ex.watch_ohlcv(sym, "1m"))
            done, _ = await asyncio.wait({task}, timeout=0.2)
            if done:
                task.result()  # raises the socket's error
                task = None
            # ccxt resolves a watch on the NEXT message only: read its candle cache itself,
            # so candles that arrived together are never left waiting for another message
            for c in self._cached(ex, sym):
                await self._on_candle(ex, sym, c)
            self._on_timer()
        if task is not None:
            task.cancel()

    def _cached(self, ex: Any, sym: str) -> list[list[float]]:
        """Candles in ccxt's cache not older than the one in progress (oldest first)."""
        cache = (getattr(ex, "ohlcvs", None) or {}).get(sym, {}).get("1m")
        if not cache:
            return []
        since = self._pending[0] if self._pending is not None else (self._last_open or 0) + 1
        rows = [list(c) for c in cache if int(c[0]) >= since]
        if rows and rows != getattr(self, "_seen_rows", None):
            self._update_wall = time.monotonic()
        self._seen_rows = rows
        return rows

    def _symbol(self, ex: Any) -> str:
        s = str(self.p.symbol)
        return s if "/" in s else str(ex.markets_by_id[s.upper()][0]["symbol"])

    async def _sync(self, ex: Any, sym: str) -> None:
        """Warm-up (first connect: ``lookback_bars`` strategy bars) or back-fill (the minutes
        after the last one emitted) from REST: every candle closed at the server's time
        (``/api/v3/time``); later ones come from the socket (a gap there is filled again)."""
        self.push_status(self.DELAYED)
        self._server_ms = int(await ex.fetch_time())
        self._server_wall = time.monotonic()
        upto = self._server_ms - self._server_ms % _MIN_MS  # candles opened before are closed
        if self._last_open is None:
            n = int(self.p.lookback_bars) * int(self.p.interval_minutes)
            if n > 0:
                self._push_warmup(await self._rest(ex, sym, upto - n * _MIN_MS, upto))
            self._last_open = max(self._last_open or 0, upto - _MIN_MS)
        else:
            rows = await self._rest(ex, sym, self._last_open + _MIN_MS, upto)
            self.backfilled_minutes += len(rows)
            for r in rows:
                self._emit(r)
        if self._pending is not None and self._pending[0] <= (self._last_open or 0):
            self._pending = None
        self._live = not self._ended
        self.push_status(self.LIVE)

    async def _rest(self, ex: Any, sym: str, since: int, before: int) -> list[list[float]]:
        """Closed 1-minute REST klines opening in [since, before), oldest first (pages of
        1,000, weight 2 each)."""
        out: list[list[float]] = []
        while since < before and not self.stopping:
            rows = await ex.fetch_ohlcv(sym, "1m", since=since, limit=1000)
            rows = [r for r in rows if since <= int(r[0]) < before]
            if not rows:
                break
            out += rows
            since = int(rows[-1][0]) + _MIN_MS
        return out

    async def _on_candle(self, ex: Any, sym: str, c: list[float]) -> None:
        t = int(c[0])
        if self._last_open is not None and t <= self._last_open:
            return
        p = self._pending
        if p is None or t == p[0]:
            self._pending = [float(x) for x in c]
        elif t > p[0]:
            self._emit(p)
            if t > p[0] + _MIN_MS:  # minutes missing on the socket: REST fills them
                gap = await self._rest(ex, sym, int(p[0]) + _MIN_MS, t)
                self.backfilled_minutes += len(gap)
                for r in gap:
                    self._emit(r)
            self._pending = [float(x) for x in c]
        self.last_price = float(c[4])

    def _on_timer(self) -> None:
        grace, p = self.p.close_grace_s, self._pending
        if grace is None or p is None or not self._server_ms:
            return
        est = self._server_ms + (time.monotonic() - self._server_wall) * 1000.0
        if est >= p[0] + _MIN_MS + float(grace) * 1000.0:
            self._emit(p)
            self._pending = None

    # ------------------------------------------------------------------ bars
    def _emit(self, c: list[float]) -> None:
        t = int(c[0])
        if self._ended or (self._last_open is not None and t <= self._last_open):
            return
        self._last_open = t
        end = ms_to_utc(t + _MIN_MS)
        if self._stop_end is not None and end >= self._stop_end:
            self._finish()  # a bar of the day after stop_after (as data.to filters files)
            return
        o, h, lo, cl, v = (float(x) for x in c[1:6])
        if int(self.p.interval_minutes) <= 1:
            self.push_bar(end, o, h, lo, cl, v)
        else:
            done = self._agg.add_bar(end, o, h, lo, cl, v)
            if self._agg.bar_is_complete(end):
                done += self._agg.flush()
            for b in done:
                self.push_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
        if self._stop_end is not None and end + dt.timedelta(minutes=1) >= self._stop_end:
            self._finish()  # the next minute ends on the next day

    def _push_warmup(self, rows: list[list[float]]) -> None:
        agg = BarAggregator(self.p.interval_minutes, self.p.session_open_min,
                            self.p.session_close_min, self.p.market_tz)  # fmt: skip
        done: list[Bar] = []
        direct = int(self.p.interval_minutes) <= 1  # as _emit: 1-minute bars pass as they are
        for r in rows:
            end = ms_to_utc(int(r[0]) + _MIN_MS)
            o, h, lo, c, v = (float(x) for x in r[1:6])
            if direct:
                done.append(Bar(end, o, h, lo, c, v))
            else:
                done += agg.add_bar(end, o, h, lo, c, v)
                if agg.bar_is_complete(end):
                    done += agg.flush()
            self._last_open = int(r[0])
        keep = int(self.p.lookback_bars)
        for b in done[-keep:] if keep > 0 else []:
            self.push_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
        self._agg = agg  # the bar in progress continues live

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True  # (still "live": the bars queued before the end are the live ones)
        for b in self._agg.flush():
            if self._stop_end is None or b.end < self._stop_end:
                self.push_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
        self.push_end()
