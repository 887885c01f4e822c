"""The Yahoo :class:`Simulator`: load files, serve HTTP from a background thread.

Example (tests)::

    sim = Simulator(["RELIANCE.NS=.../nse_daily/RELIANCE.csv"], start="2019-01-01",
                    end="2019-03-31", speed=0)
    sim.start()                       # returns once the server is listening
    os.environ.update(sim.env())      # MIXBOT_YAHOO_API=http://127.0.0.1:<port>
    sim.clock.set_time(...)           # speed 0: the test moves simulated time
    ...
    sim.stop()

Plain HTTP on ``127.0.0.1`` (the client's session rewrites Yahoo's ``https://`` URLs to it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from mixbot.simulators.yahoo.market import SimClock, load_tickers
from mixbot.simulators.yahoo.server import Context, Faults, build_app
from mixbot.venues.yahoo.hosts import API_ENV


def _date(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


class Simulator:
    """A local Yahoo Finance chart API on real bar files (see :mod:`.market`, :mod:`.server`).

    Args:
        data: ``FILE`` or ``TICKER=FILE`` items (daily and/or 1-minute files).
        port: TCP port on 127.0.0.1; 0 = any free one (:attr:`port` after :meth:`start`).
        speed: simulated seconds per wall second; 0 = only the caller moves the clock
            (:attr:`clock`: ``advance``, ``set_time``).
        start, end: first/last simulated trading date (default: the data's range; with
            1-minute data, its range).
        faults: initial fault counters (``rate_limit``, ``server_errors``, ``empty``).

    Raises:
        DataFileError, ValueError: a file cannot be loaded, or no trading day to play.
    """

    def __init__(
        self,
        data: Sequence[str | Path],
        *,
        port: int = 0,
        speed: float = 0.0,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        faults: dict[str, int] | None = None,
    ) -> None:
        if not data:
            raise ValueError("the simulator needs at least one data file")
        self.tickers = load_tickers([str(d) for d in data])
        minute = [t.minute for t in self.tickers.values() if t.minute is not None]
        days = sorted({d for t in self.tickers.values() for d in t.days()})
        if minute:
            first = min(m.days()[0] for m in minute)
            last = max(m.days()[-1] for m in minute)
        else:
            first, last = days[0], days[-1]
        lo, hi = _date(start) or first, _date(end) or last
        play = [d for d in days if lo <= d <= hi]
        if not play:
            raise ValueError(f"no trading day with data between {lo} and {hi}")
        self.clock = SimClock(play, speed)
        self.ctx = Context(self.tickers, self.clock, Faults())
        if faults:
            self.ctx.faults.set(**faults)
        self._requested_port = port
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The variables a client needs: ``MIXBOT_YAHOO_API``."""
        return {API_ENV: self.base_url}

    @property
    def finished(self) -> bool:
        """True once the clock passed the last day."""
        return self.clock.finished

    def chart_requests(self, interval: str | None = None, ranged: bool = True) -> list[Any]:
        """The chart requests so far (``(symbol, interval, period1, period2, range)``),
        optionally of one ``interval`` and only those with ``period1`` (``ranged``)."""
        return [
            c
            for c in list(self.ctx.charts)
            if (interval is None or c[1] == interval) and (not ranged or c[2] is not None)
        ]

    def start(self, timeout: float = 30.0) -> Simulator:
        """Serve from a daemon thread; start the clock (speed > 0). Returns self.

        Raises:
            RuntimeError: already started, or the server did not come up (the cause chained).
        """
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._run, name="yahoo-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError("the Yahoo simulator did not start") from self._error
        self.clock.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is not None and self._stopping is not None and loop.is_running():
            loop.call_soon_threadsafe(self._stopping.set)
        if thread is not None:
            thread.join(timeout)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        runner = web.AppRunner(build_app(self.ctx), handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._requested_port)
        await site.start()
        server: Any = site._server
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()
