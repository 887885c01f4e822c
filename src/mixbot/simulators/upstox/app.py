"""The :class:`Simulator`: load files, serve HTTPS + websocket from a background thread.

Example (tests, other engineers)::

    sim = Simulator(files=[Path(".../BANKNIFTY_F1_2019H1.txt")], port=0, speed=0)
    sim.start()                      # returns once the server is listening
    os.environ.update(sim.env())     # MIXBOT_UPSTOX_API / _ASSETS / _CA_BUNDLE + token
    ...
    sim.stop()

The server listens on ``127.0.0.1`` (TLS, certificate for 127.0.0.1/localhost signed by a
local CA written to ``tls_dir``). The event loop runs in a daemon thread; every method here
is safe to call from the caller's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from mixbot.simulators.upstox.exchange import Exchange
from mixbot.simulators.upstox.faults import Faults
from mixbot.simulators.upstox.instruments import Instrument, Series, load_series
from mixbot.simulators.upstox.replay import Replay
from mixbot.simulators.upstox.server import Context, build_app
from mixbot.simulators.upstox.ticks import DEFAULT_TICKS_PER_BAR
from mixbot.simulators.upstox.tls import TlsFiles, make_tls
from mixbot.simulators.upstox.ws import LIMITS
from mixbot.venues.upstox.http.hosts import API_ENV, ASSETS_ENV, CA_ENV, TOKEN_ENV


def _as_date(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


class Simulator:
    """A local Upstox (REST + market-data websocket) replaying real bar files.

    Args:
        files: 1-minute vendor files and/or daily files (see :mod:`.instruments`).
        port: TCP port on 127.0.0.1; 0 = any free port (see :attr:`port` after start).
        speed: simulated seconds per real second; 0 = as fast as clients read
            (see :mod:`.replay`).
        start, end: first/last simulated date (``date`` or ``"YYYY-MM-DD"``); default the
            1-minute data's range.
        token: the only access token accepted (``Authorization: Bearer <token>``).
        tls_dir: where the CA and certificate PEMs go; default a new temporary folder.
        ticks_per_bar: synthetic trades per 1-minute bar (daily bars get 10x).
        wait_for_client: start the replay when the first client subscribes.
        hold_without_client: speed > 0: simulated time stands still while nobody is
            subscribed (a bot restarting misses no market time; see :mod:`.replay`).
        limits: websocket subscription limits per mode (default :data:`.ws.LIMITS`).
        faults: initial faults, as a control-API dict (see :mod:`.faults`).
        cash: opening cash of the simulated account (funds API), INR.
        slippage_bps: MARKET fills move this many basis points against the order.
        expire_tokens: the night before each session after the first (Upstox: 03:30 IST) the
            access token dies: REST calls with it get 401 ``UDAPI100050``, the market-data
            and portfolio websockets are closed (code 1008), and only a new login
            (``/v2/login/authorization/token``) gives the token that works, a new one each
            day. Upstox's own behaviour for sockets open at 03:30 is not documented: closing
            them stands for it.
        hold_for_login: with ``expire_tokens``, the next session waits until that login (the
            market clock stands still meanwhile: tests decide when the user logs in).
        freeze_quantity: the freeze quantity of every future instead of the exchange's (e.g.
            60 on BANKNIFTY's lot of 20: an order of 140 becomes slices of 60, 60 and 20).

    The exchange (orders, fills, positions, funds; see :mod:`.exchange`) is
    :attr:`exchange`, e.g. ``sim.exchange.orders()``, ``sim.exchange.count_orders(tag=..)``.

    Raises:
        DataFileError / ConfigError: a file cannot be loaded; ValueError: no day to play.
    """

    def __init__(
        self,
        files: Sequence[Path | str],
        *,
        port: int = 0,
        speed: float = 0.0,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        token: str = "sim-token",
        tls_dir: Path | str | None = None,
        ticks_per_bar: int = DEFAULT_TICKS_PER_BAR,
        wait_for_client: bool = True,
        hold_without_client: bool = False,
        limits: Mapping[str, int] | None = None,
        faults: Mapping[str, Any] | None = None,
        cash: float = 10_000_000.0,
        slippage_bps: float = 0.0,
        expire_tokens: bool = False,
        hold_for_login: bool = False,
        freeze_quantity: int | None = None,
    ) -> None:
        self.expire_tokens = expire_tokens
        self.hold_for_login = hold_for_login
        #: set while the replay waits for a login after a token expiry (``hold_for_login``)
        self.waiting_for_login = threading.Event()
        self._logged_in: asyncio.Event | None = None
        self._app: Any = None
        if not files:
            raise ValueError("the simulator needs at least one data file")
        if not token:
            raise ValueError("token must not be empty")
        self.series: list[Series] = [load_series(Path(f)) for f in files]
        keys = [s.inst.key for s in self.series]
        if len(set(keys)) != len(keys):
            raise ValueError(f"two files map to the same instrument: {keys}")
        if freeze_quantity is not None:
            for series in self.series:
                inst = series.inst
                if inst.instrument_type == "FUT":
                    if freeze_quantity < inst.lot_size or freeze_quantity % inst.lot_size:
                        raise ValueError(
                            f"freeze_quantity {freeze_quantity} must be a multiple of "
                            f"{inst.trading_symbol}'s lot size {inst.lot_size}"
                        )
                    inst.freeze_quantity = float(freeze_quantity)
        self.token = token
        self.speed = float(speed)
        self._start_day, self._end_day = _as_date(start), _as_date(end)
        self._ticks_per_bar = ticks_per_bar
        self._wait = wait_for_client
        self._hold = hold_without_client
        self._limits = dict(LIMITS, **(limits or {}))
        self._requested_port = port
        self.tls_dir = Path(tls_dir) if tls_dir else Path(tempfile.mkdtemp(prefix="upstox-sim-"))
        self.faults = Faults()
        if faults:
            self.faults.apply(dict(faults))
        self.exchange = Exchange(self.instruments, self.faults, cash, slippage_bps)
        self.port = 0
        self.replay: Replay | None = None
        self._tls: TlsFiles | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._ctx: Context | None = None
        self._stopping: asyncio.Event | None = None

    async def _expire_token(self, day: dt.date) -> None:
        """The night before ``day``'s session: the token dies (see ``expire_tokens``)."""
        from mixbot.simulators.upstox.orders import SHARED

        assert self._ctx is not None and self._logged_in is not None
        self._logged_in.clear()
        self.token = self._ctx.token = f"{self._ctx.token.split('~')[0]}~{day:%Y%m%d}"
        for conn in list(self._ctx.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1008, message=b"access token expired")
        if self._app is not None:
            for client in list(self._app[SHARED].clients):
                with contextlib.suppress(asyncio.QueueFull):
                    client.queue.put_nowait(None)
        if self.hold_for_login:
            self.waiting_for_login.set()
            await self._logged_in.wait()
            self.waiting_for_login.clear()

    # ------------------------------------------------------------------ public API

    @property
    def instruments(self) -> list[Instrument]:
        """The simulated instruments, one per file, in file order."""
        return [s.inst for s in self.series]

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` (value of ``MIXBOT_UPSTOX_API``)."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def assets_url(self) -> str:
        """Base of the instruments files (value of ``MIXBOT_UPSTOX_ASSETS``)."""
        return f"{self.base_url}/assets"

    @property
    def ca_path(self) -> Path:
        """PEM of the CA clients must trust."""
        return self.tls_dir / "ca.pem"

    def env(self) -> dict[str, str]:
        """Environment pointing mixbot (and scripts) at this simulator."""
        return {
            API_ENV: self.base_url,
            ASSETS_ENV: self.assets_url,
            CA_ENV: str(self.ca_path),
            TOKEN_ENV: self.token,
        }

    def now_ms(self) -> int:
        """The simulated now, ms since epoch UTC."""
        return self.replay.clock.now_ms() if self.replay else 0

    @property
    def finished(self) -> bool:
        """True once the replay reached the end of the data."""
        return bool(self.replay and self.replay.finished)

    def start(self, timeout: float = 30.0) -> Simulator:
        """Start the server thread; return once it listens (raises its startup error)."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._tls = make_tls(self.tls_dir)
        self._thread = threading.Thread(target=self._main, name="upstox-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the simulator did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the simulator failed to start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection, stop the server and join its thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._stopping is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stopping.set)
        thread.join(timeout)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ thread

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start() when not ready yet
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    def _poke_all(self) -> None:
        if self.replay is None:
            return
        for sub in list(self.replay.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)

    def _on_fault(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._poke_all)

    async def _serve(self) -> None:
        assert self._tls is not None
        self._stopping = asyncio.Event()
        self.replay = Replay(
            self.series,
            speed=self.speed,
            start=self._start_day,
            end=self._end_day,
            ticks_per_bar=self._ticks_per_bar,
            wait_for_client=self._wait,
            hold_without_client=self._hold,
        )
        self.exchange.attach(self.replay)
        self._ctx = Context(
            self.replay, self.faults, self.token, limits=self._limits, exchange=self.exchange
        )
        self._logged_in = asyncio.Event()
        self._ctx.on_login = self._logged_in.set
        if self.expire_tokens:
            self.replay.night_hooks.append(self._expire_token)
        self.faults.on_change = self._on_fault
        app = self._app = build_app(self._ctx)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(
            runner, "127.0.0.1", self._requested_port, ssl_context=self._tls.server_context()
        )
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        replay_task = asyncio.create_task(self.replay.run())
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            self.faults.on_change = None
            replay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await replay_task
            for conn in list(self._ctx.connections):
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=1001, message=b"simulator stopped")
            await runner.cleanup()
