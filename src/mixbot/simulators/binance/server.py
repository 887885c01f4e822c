"""The Binance spot simulator: REST ``/api/v3``, market streams ``/ws`` and the WebSocket
API ``/ws-api/v3`` on 127.0.0.1, replaying real bar files in simulated time.

Clock. The market clock (epoch ms, UTC) starts at ``start`` and moves one file bar at a
time: with ``speed`` > 0 a background task moves it ``speed`` simulated seconds per wall
second; with speed 0 only :meth:`BinanceSim.step` moves it (tests drive it, so they never
depend on the machine's speed). Each step closes the bar that opened at the clock: its
kline goes out with ``x: true``, resting orders are matched against it (see
:mod:`~mixbot.simulators.binance.exchange`), then the next bar's first update goes out
(``x: false``, open price only). At the end of the data the clock stops
(:attr:`finished`); the sockets stay open until :meth:`stop`. REST klines serve only bars closed by the clock. Signature timestamps and rate windows use the WALL clock.

Usage (also ``mixbot binance-sim``)::

    sim = BinanceSim([path], start="2023-03-02", speed=0).start()
    env = sim.env()            # MIXBOT_BINANCE_API / MIXBOT_BINANCE_WS (+ key, secret)
    sim.step(10)               # ten 1-minute bars
    sim.stop()
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from mixbot.simulators.binance.bars import INTERVAL_MS, Klines
from mixbot.simulators.binance.exchange import Account, ApiError, SymbolRules
from mixbot.simulators.binance.guard import Guard
from mixbot.simulators.binance.rest import add_rest_routes
from mixbot.simulators.binance.streams import Streams


def _ms(day: str | None) -> int | None:
    if not day:
        return None
    d = dt.datetime.fromisoformat(day)
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    return int(d.timestamp() * 1000)


class BinanceSim:
    """A local Binance spot (one symbol, one account).

    Args:
        files: bar files of the symbol (1-minute or hourly BTCUSDT; read in UTC).
        port: TCP port on 127.0.0.1 (0 = any free one).
        start: ISO date/time (UTC) the market clock starts at; default the first bar's open.
        end: ISO date (UTC, inclusive) after which the replay ends; default the file's end.
        speed: simulated seconds per wall second; 0 = only :meth:`step` moves the clock.
        symbol, base, quote: the symbol's names (default BTCUSDT = BTC / USDT).
        balances: opening free balances by asset (default 100,000 USDT).
        api_key, secret: the credentials SIGNED requests must use.
        weight_limit, order_limit_10s: the rate limits enforced (Binance: 6,000 / 50).
        wait_for_client: with ``speed`` > 0, start the clock at the first kline
            subscription (False: at once).

    Raises:
        DataFileError: a file cannot be read.
        ValueError: no bars between ``start`` and ``end``.
    """

    def __init__(
        self,
        files: Sequence[Path],
        *,
        port: int = 0,
        start: str | None = None,
        end: str | None = None,
        speed: float = 0.0,
        symbol: str = "BTCUSDT",
        base: str = "BTC",
        quote: str = "USDT",
        balances: dict[str, float] | None = None,
        api_key: str = "sim-key",
        secret: str = "sim-secret",
        weight_limit: int = 6000,
        order_limit_10s: int = 50,
        wait_for_client: bool = True,
    ) -> None:
        self.bars = Klines.load(list(files))
        self.rules = SymbolRules(symbol, base, quote)
        self.account = Account(self.rules, balances or {quote: 100_000.0})
        self.guard = Guard(api_key, secret, weight_limit, order_limit_10s)
        first = int(self.bars.open_ms[0])
        last_close = int(self.bars.open_ms[-1]) + self.bars.step_ms
        start_ms = _ms(start) or first
        end_ms = _ms(end)
        self.end_ms = min(last_close, end_ms + 86_400_000) if end_ms else last_close
        if start_ms >= self.end_ms:
            raise ValueError(f"no bars between {start} and {end}")
        self.now_ms = max(start_ms, first) - (max(start_ms, first) - first) % self.bars.step_ms
        k = self.bars.closed_before(self.now_ms)
        self.account.last_price = (
            float(self.bars.ohlcv[k - 1, 3]) if k else float(self.bars.ohlcv[0, 0])
        )
        self.speed = float(speed)
        self.wait_for_client = wait_for_client
        self.port = port
        self.streams = Streams(self)
        self.account.emit = self.streams.user_event
        self.finished = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._clock_lock = threading.Lock()
        self.changed = threading.Condition()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> BinanceSim:
        """Serve in a background thread; returns self once listening."""
        self._thread = threading.Thread(target=self._serve, name="binance-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("binance-sim did not start")
        return self

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application()
        add_rest_routes(app, self)
        self.streams.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if self.speed > 0:
            loop.create_task(self._pace())
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self.streams.close_all())
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def __enter__(self) -> BinanceSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The variables a bot needs: hosts and the account's key and secret."""
        return {
            "MIXBOT_BINANCE_API": self.api_url,
            "MIXBOT_BINANCE_WS": self.ws_url,
            "BINANCE_API_KEY": self.guard.api_key,
            "BINANCE_API_SECRET": self.guard.secret,
        }

    # ------------------------------------------------------------------ clock
    def step(self, n: int = 1) -> int:
        """Move the market clock ``n`` file bars (from any thread); returns the bars closed.
        Does nothing once the replay has ended."""
        assert self._loop is not None, "start() first"
        fut = asyncio.run_coroutine_threadsafe(self._step(n), self._loop)
        return fut.result(60)

    async def _step(self, n: int) -> int:
        done = 0
        for _ in range(n):
            if self.now_ms >= self.end_ms:
                await self._finish()
                break
            t = self.now_ms
            i = self.bars.index_at(t)
            closing = i < len(self.bars.open_ms) and int(self.bars.open_ms[i]) == t
            self.now_ms = t + self.bars.step_ms
            if closing:
                o, h, lo, c, _ = (float(x) for x in self.bars.ohlcv[i])
                self.account.on_bar(o, h, lo, c, self.now_ms)
                await self.streams.bar_closed(i)
                done += 1
            if self.now_ms >= self.end_ms:
                await self._finish()
                break
        with self.changed:
            self.changed.notify_all()
        return done

    async def _finish(self) -> None:
        # the sockets stay open (Binance never ends a stream): a client still reading the
        # last candles keeps them; they close when the simulator stops
        self.finished = True

    async def _pace(self) -> None:
        delay = self.bars.step_ms / 1000.0 / self.speed
        while self.wait_for_client and not self.streams.subscribes:
            await asyncio.sleep(0.05)  # the clock starts with the first kline subscription
        while not self.finished:
            await asyncio.sleep(delay)
            await self._step(1)

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> bool:
        """Wait (wall clock, at most ``timeout`` s) until ``predicate()`` is true."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # ------------------------------------------------------------------ faults
    def inject_http(
        self, status: int, count: int = 1, retry_after: int = 1, path: str = ""
    ) -> None:
        """The next ``count`` REST answers on ``path`` are HTTP ``status`` (429, 418, 5xx)."""
        self.guard.inject(status, count, retry_after, path)

    def reject_orders(self, count: int = 1) -> None:
        """Refuse the next ``count`` new orders (-2010)."""
        self.account.reject_next += count

    def drop_sockets(self) -> None:
        """Cut every websocket (market streams and WebSocket API) without a close frame."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self.streams.drop_all(), self._loop).result(30)

    def interval_ms(self, interval: str) -> int:
        """Milliseconds of a Binance interval name.

        Raises:
            ApiError: -1120 an interval name Binance does not have.
        """
        ms = INTERVAL_MS.get(interval)
        if ms is None:
            raise ApiError(400, -1120, "Invalid interval.")
        return ms


def dumps(x: Any) -> str:
    return json.dumps(x, separators=(",", ":"))
