"""The simulator's TCP server: one asyncio loop (own thread) serving TWS API clients.

Per connection: the ``API\\0`` handshake and version negotiation (the client's range must
include :data:`~.protocol.SERVER_VERSION` = 178), ``startApi`` -> ``nextValidId`` +
``managedAccounts`` (+ the "farm connection is OK" notices 2104/2106/2158), then requests
(:mod:`.handlers`). A second connection with a client id in use gets error 326 and is
closed, as TWS does.

Clock (:class:`Simulator` ``speed``): the replay publishes one minute at a time (the
minute's fills, then its twelve 5-second bars to every ``reqRealTimeBars`` subscriber and
the minute to every ``keepUpToDate`` subscriber).

* ``speed > 0``: simulated seconds per wall second (60 = a minute per second); the clock
  waits for the first subscriber and holds while no one is subscribed (a bot restarting
  misses no market time). Nights and non-trading days are skipped.
* ``speed == 0`` (lockstep, for tests and fast runs): the next minute is published once
  EVERY streaming subscriber has acknowledged the last one by sending ``reqCurrentTime``
  (the ``ibkr`` feed does that after the bot has processed each bar; a test using
  ib_async directly calls ``ib.reqCurrentTime()``). No wall-clock timing anywhere.

End of data: after the last minute, each streaming subscription gets error 162 with the
text ``end of replay`` (a simulator convention: the ``ibkr`` feed ends on it) and
:attr:`Simulator.finished` is set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mixbot.simulators.ibkr import messages as M
from mixbot.simulators.ibkr import protocol as P
from mixbot.simulators.ibkr.exchange import Exchange, SimFill, SimOrder
from mixbot.simulators.ibkr.market import Instrument, five_second_bars, load_instrument

log = logging.getLogger(__name__)

END_TEXT = P.END_TEXT


@dataclass
class Conn:
    """One client connection."""

    writer: asyncio.StreamWriter
    client_id: int = -1
    rt_subs: dict[int, int] = field(default_factory=dict)  # reqId -> con id
    kud_subs: dict[int, int] = field(default_factory=dict)  # keepUpToDate reqId -> con id
    acked: bool = True
    account_updates: bool = False
    positions: bool = False  # subscribed by reqPositions (updates pushed after fills)
    hist_times: list[float] = field(default_factory=list)  # wall times of history requests

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    @property
    def streaming(self) -> bool:
        return bool(self.rt_subs or self.kud_subs)


class Simulator:
    """A local TWS / IB Gateway on real 1-minute files (module docstring).

    Args:
        files: 1-minute data files, one instrument each (:mod:`.market`).
        port: TCP port on ``host`` (0 = any free one; read :attr:`port` after start).
        speed: see the module docstring (0 = lockstep).
        start, end: first / last replayed date (``YYYY-MM-DD``, exchange dates; default:
            the second data day, so the first one serves as history, / the last day).
        cash: the account's starting cash (contract currency).
        commission: fraction of traded value charged per execution.
        account: the account id (``managedAccounts``).
    """

    def __init__(
        self,
        files: Sequence[str | Path],
        port: int = 0,
        host: str = "127.0.0.1",
        speed: float = 0.0,
        start: str | None = None,
        end: str | None = None,
        cash: float = 1_000_000.0,
        commission: float = 0.0003,
        account: str = "DU1234567",
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.instruments: list[Instrument] = [
            load_instrument(Path(f), 265_598 + n) for n, f in enumerate(files)
        ]
        self.host, self.port, self.speed = host, int(port), float(speed)
        self.exchange = Exchange(account, cash, commission)
        for inst in self.instruments:
            self.exchange.contracts[inst.contract.con_id] = inst.contract
        self.minutes = self._minutes(start, end)
        self.cursor = 0  # index of the next minute to publish
        first = self.minutes[0] if self.minutes else 0
        self.now_s = first - 60
        for inst in self.instruments:  # the last price before the replay: the last history bar
            n = inst.upto(self.now_s)
            if n:
                self.exchange.last_price[inst.contract.con_id] = float(inst.c[n - 1])
        self.exchange.now_s = self.now_s
        self.exchange.listeners.append(self._on_order)
        self.conns: list[Conn] = []
        self.finished = False
        self.max_order_id: dict[int, int] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._wake: asyncio.Event | None = None
        self._tick: asyncio.Event | None = None
        self._stopping = False

    # ------------------------------------------------------------------ set-up
    def _minutes(self, start: str | None, end: str | None) -> list[int]:
        ends: set[int] = set()
        for inst in self.instruments:
            ends.update(int(x) for x in inst.end_s)
        ordered = sorted(ends)
        tz = ZoneInfo(self.instruments[0].contract.time_zone) if self.instruments else dt.UTC

        def day(s: int) -> dt.date:
            return dt.datetime.fromtimestamp(s, tz).date()

        days = sorted({day(s) for s in ordered})
        d0 = dt.date.fromisoformat(start) if start else (days[1] if len(days) > 1 else days[0])
        d1 = dt.date.fromisoformat(end) if end else days[-1]
        return [s for s in ordered if d0 <= day(s) <= d1]

    def env(self) -> dict[str, str]:
        """The variables a bot needs to reach this simulator."""
        return {"MIXBOT_IBKR_HOST": self.host, "MIXBOT_IBKR_PORT": str(self.port)}

    def start(self) -> Simulator:
        """Serve in a background thread; returns once the port is open."""
        self._thread = threading.Thread(target=self._run, name="ibkr-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the IBKR simulator did not start")
        return self

    def stop(self) -> None:
        """Close every connection and the server; join the thread (idempotent)."""
        self._stopping = True
        loop = self.loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._shutdown)
        if self._thread is not None:
            self._thread.join(10)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the simulator's loop and return its result (thread-safe)."""
        assert self.loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def _shutdown(self) -> None:
        for c in list(self.conns):
            c.writer.close()
        if self._server is not None:
            self._server.close()
        self.poke()

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        self._tick = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        replay = asyncio.ensure_future(self._replay())
        try:
            while not self._stopping:
                self._wake.clear()
                await self._wake.wait()
        finally:
            replay.cancel()
            self._server.close()

    def poke(self) -> None:
        """Wake the replay to re-check its condition (on the loop)."""
        if self._wake is not None:
            self._wake.set()
        if self._tick is not None:
            self._tick.set()

    # ------------------------------------------------------------------ replay
    def _streaming(self) -> list[Conn]:
        return [c for c in self.conns if c.streaming]

    async def _wait_turn(self) -> None:
        """Until the next minute may be published (module docstring)."""
        assert self._tick is not None
        while not self._stopping:
            subs = self._streaming()
            if subs and (self.speed > 0 or all(c.acked for c in subs)):
                break
            self._tick.clear()
            await self._tick.wait()
        if self.speed > 0:
            await asyncio.sleep(60.0 / self.speed)

    async def _replay(self) -> None:
        while self.cursor < len(self.minutes) and not self._stopping:
            await self._wait_turn()
            if self._stopping:
                return
            self._publish(self.minutes[self.cursor])
            self.cursor += 1
        await self._wait_turn()
        self.finished = True
        for c in self.conns:
            for req_id in [*c.rt_subs, *c.kud_subs]:
                c.send(M.error(req_id, 162, END_TEXT))
        log.info("IBKR simulator: end of replay")

    def _publish(self, end_s: int) -> None:
        self.now_s = end_s
        for c in self._streaming():
            c.acked = False
        for inst in self.instruments:
            i = inst.upto(end_s) - 1
            if i < 0 or int(inst.end_s[i]) != end_s:
                continue
            _, o, h, lo, cl, v = inst.bar(i)
            con = inst.contract.con_id
            self.exchange.on_minute(con, end_s, o, h, lo, cl)
            rt = five_second_bars(end_s, o, h, lo, cl, v)
            for c in self.conns:
                for req_id, cid in c.rt_subs.items():
                    if cid == con:
                        for b in rt:
                            c.send(M.realtime_bar(req_id, *b))
                for req_id, cid in c.kud_subs.items():
                    if cid == con:
                        c.send(M.historical_update(req_id, (str(end_s - 60), o, h, lo, cl, v)))
        self.exchange.now_s = end_s
        for c in self.conns:
            if c.account_updates:
                self._send_account(c)

    # ------------------------------------------------------------------ orders -> clients
    def _on_order(self, o: SimOrder, fill: SimFill | None) -> None:
        contract = self.exchange.contracts[o.con_id]
        for c in self.conns:
            if c.client_id != o.client_id:
                continue
            c.send(M.open_order(o, contract))
            if fill is not None:
                c.send(M.exec_details(-1, o, contract, fill))
                c.send(M.commission_report(fill, contract.currency))
            last = fill.price if fill is not None else 0.0
            c.send(
                M.order_status(
                    o.order_id, o.status, o.filled, o.remaining, o.avg_price, o.perm_id, last,
                    o.client_id,
                )
            )  # fmt: skip
            if fill is not None and c.account_updates:
                self._send_account(c)
        if fill is not None:
            qty, cost = self.exchange.positions.get(o.con_id, (0.0, 0.0))
            for c in self.conns:
                if c.positions:
                    c.send(M.position(self.exchange.account, contract, qty, cost))

    def _send_account(self, c: Conn) -> None:
        acct = self.exchange.account
        for key, value, cur in self.exchange.account_values():
            c.send(M.account_value(key, value, cur, acct))
        when = dt.datetime.fromtimestamp(self.now_s, dt.UTC)
        c.send(M.account_time(f"{when:%H:%M}"))

    # ------------------------------------------------------------------ connections
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from mixbot.simulators.ibkr.handlers import handle

        conn = Conn(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:  # many small messages: no Nagle delay
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if not await self._handshake(reader, conn):
                return
            self.conns.append(conn)
            buf = bytearray()
            while not self._stopping:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
                for fields in P.split_frames(buf):
                    if not handle(self, conn, fields):
                        return
                    self.poke()
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if conn in self.conns:
                self.conns.remove(conn)
            writer.close()
            self.poke()

    async def _handshake(self, reader: asyncio.StreamReader, conn: Conn) -> bool:
        head = await reader.readexactly(4)
        if head != b"API\0":
            return False
        n = int.from_bytes(await reader.readexactly(4), "big")
        text = (await reader.readexactly(n)).decode(errors="replace")
        try:
            lo, hi = P.parse_versions(text)
        except ValueError:
            return False
        if not lo <= P.SERVER_VERSION <= hi:
            log.warning("client versions %s..%s do not include %s", lo, hi, P.SERVER_VERSION)
            return False
        when = dt.datetime.fromtimestamp(self.now_s, dt.UTC)
        conn.send(P.frame([P.SERVER_VERSION, f"{when:%Y%m%d %H:%M:%S} UTC"]))
        return True
