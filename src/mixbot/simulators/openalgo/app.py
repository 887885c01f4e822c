"""The :class:`Simulator`: a local OpenAlgo (REST + websocket) replaying real bar files.

Example (tests)::

    sim = Simulator(data=[".../BANKNIFTY_F1_2019H1.txt"], end="2019-01-02", speed=0)
    sim.start()                    # returns once both ports listen
    os.environ.update(sim.env())   # MIXBOT_OPENALGO_HOST / _WS, OPENALGO_API_KEY
    sim.step(1)                    # speed 0: play one more bar end (blocks until played)
    sim.stop()

REST listens on ``127.0.0.1:<port>``, the websocket on ``127.0.0.1:<ws_port>`` (OpenAlgo's
own layout: REST on 5000, websocket on 8765). Plain HTTP and WS: OpenAlgo runs locally
without TLS. The event loop runs in a daemon thread; every public method is safe to call
from the caller's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from mixbot.simulators.openalgo.exchange import Exchange, Fill
from mixbot.simulators.openalgo.market import Instrument, load_instrument
from mixbot.simulators.openalgo.replay import Replay
from mixbot.simulators.openalgo.server import Market, build_app

T = TypeVar("T")
HOST_ENV, WS_ENV, KEY_ENV = "MIXBOT_OPENALGO_HOST", "MIXBOT_OPENALGO_WS", "OPENALGO_API_KEY"


class Simulator:
    """A local OpenAlgo replaying ``data`` (see the module docstring).

    Args:
        data: ``FILE[:SYMBOL[:EXCHANGE]]`` per instrument (:func:`.market.load_instrument`).
        port, ws_port: TCP ports on 127.0.0.1 (0 = any free one; see :attr:`port`).
        speed: simulated seconds per real second; 0 = stepped (:meth:`step`).
        start, end: first / last IST date played (``YYYY-MM-DD``; None: the file's range).
        api_key: the only API key accepted (REST ``apikey``, websocket ``api_key``).
        cash: opening ``availablecash``, INR.
        slippage_bps: MARKET fills move this many basis points against the order.
        wait_for_client: the replay starts at the first websocket subscription.

    Raises:
        DataFileError, ValueError: a data file cannot be read or has no bar in range.
    """

    def __init__(
        self,
        data: Sequence[str],
        port: int = 0,
        ws_port: int = 0,
        speed: float = 0.0,
        start: str | None = None,
        end: str | None = None,
        api_key: str = "sim-openalgo-key",
        cash: float = 10_000_000.0,
        slippage_bps: float = 0.0,
        wait_for_client: bool = True,
    ) -> None:
        self.instruments: list[Instrument] = [load_instrument(str(d), start, end) for d in data]
        self.api_key = api_key
        self.speed = speed
        self.port, self.ws_port = port, ws_port
        self.exchange = Exchange(self.instruments, cash=cash, slippage_bps=slippage_bps)
        self.calls: dict[str, int] = {}
        self._wait = wait_for_client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.market: Market
        self.replay: Replay

    # ------------------------------------------------------------------ life cycle
    def start(self, timeout: float = 30.0) -> Simulator:
        """Start serving; returns once both ports listen.

        Raises:
            RuntimeError: the server did not come up (the cause chained).
        """
        self._thread = threading.Thread(target=self._main, name="openalgo-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"the OpenAlgo simulator did not start: {self._error}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (idempotent)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported through start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self.market = Market(self.api_key)
        self.replay = Replay(
            self.instruments, self.exchange, self.market.broadcast, self.speed, self._wait
        )
        runner = web.AppRunner(build_app(self), handle_signals=False, access_log=None)
        await runner.setup()
        sites = []
        for port in (self.port, self.ws_port):
            site = web.TCPSite(runner, "127.0.0.1", port, shutdown_timeout=0.5)
            await site.start()
            sites.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        self.port, self.ws_port = sites
        task = asyncio.ensure_future(self.replay.run(self.market.close_all))
        self._ready.set()
        await self._stop.wait()
        task.cancel()
        await self.market.close_all()
        await runner.cleanup()

    # ------------------------------------------------------------------ access
    @property
    def host(self) -> str:
        """The REST base (what ``openalgo.api(host=...)`` takes)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The websocket URL (``openalgo.api(ws_url=...)``)."""
        return f"ws://127.0.0.1:{self.ws_port}"

    def env(self) -> dict[str, str]:
        """The variables a bot's shell needs to reach this simulator."""
        return {HOST_ENV: self.host, WS_ENV: self.ws_url, KEY_ENV: self.api_key}

    @property
    def finished(self) -> bool:
        """True once the last bar was played."""
        return bool(getattr(self, "replay", None) and self.replay.finished)

    def _call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        assert self._loop is not None, "simulator not started"

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def step(self, bars: int = 1, timeout: float = 60.0) -> int:
        """Speed 0: play ``bars`` more bar ends and return once they are played (or the
        replay finished); returns the number of bar ends played so far."""
        assert self._loop is not None, "simulator not started"

        async def run() -> int:
            target = await self.replay.step(bars)
            await self.replay.wait_played(target)
            return self.replay.pos

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def wait_subscribed(self, timeout: float = 60.0) -> None:
        """Block until a websocket client has subscribed (hang guard: ``timeout`` s).

        Raises:
            TimeoutError: nobody subscribed in time.
        """
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(self.market.subscribed.wait(), self._loop)
        fut.result(timeout)

    def orders(self, tag: str | None = None) -> list[dict[str, Any]]:
        """Copies of the order rows (only ``tag``'s when given)."""
        return self._call(lambda: self.exchange.orders(tag))

    def fills(self) -> list[Fill]:
        """Every exchange trade so far."""
        return self._call(self.exchange.fills)
