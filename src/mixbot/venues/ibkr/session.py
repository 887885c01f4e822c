"""``IbkrSession``: the one ib_async connection a bot's ``ibkr`` feed and broker share.

ib_async is asyncio code bound to the loop it runs on, and Backtrader runs in the bot's own
thread. So the session runs a private event loop in a daemon thread and every ib_async
call goes through it: :meth:`call` (run a function on the loop, wait for its result) and
:meth:`post` (queue it, do not wait). Both keep submission order (``call_soon_threadsafe``
is FIFO), which the feed's lockstep acknowledgement relies on: an order placed while the
bot handles a bar reaches the socket before the acknowledgement of that bar. ib_async's
events (order status, fills, bars) fire on that loop; the feed and the broker only put
what they receive into thread-safe queues.

Rate limits: "the TWS API's inherent limitation of 50 messages per second" (TWS API docs,
Order Limitations, https://interactivebrokers.github.io/tws-api/order_limitations.html; the
same page: at most 20 active orders per contract per side per account). ib_async throttles
its own sends to 45 per second (``Client.MaxRequests`` = 45 per ``RequestsInterval`` = 1 s);
the session sets ``MaxRequests`` from ``ibkr.max_messages_per_second`` (default 45; only
the local simulator may be given more: its lockstep replay moves one minute per message).
Historical data (https://interactivebrokers.github.io/tws-api/historical_limitations.html):
at most 50 open requests at once; the pacing rules (no identical request within 15 s, fewer
than 6 per contract within 2 s, at most 60 per 10 minutes) bind bars of 30 s or less, and
are "lifted" but kept as a soft limit for 1-minute bars and up. The feed asks history once,
at warm-up, for whole days of 1-minute bars.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from mixbot.errors import MixbotError
from mixbot.venues.ibkr.config import IbkrConfig

log = logging.getLogger(__name__)


class IbkrError(MixbotError):
    """Interactive Brokers could not be reached or refused a request (message says why)."""


class IbkrSession:
    """One connection to TWS / IB Gateway (see the module docstring).

    Attributes:
        token: always None (IB authenticates in TWS, not per request).
        rate_limiter: None (ib_async throttles its own messages, 45/s).
        cfg: the :class:`~mixbot.venues.ibkr.config.IbkrConfig`.
        ib: the ``ib_async.IB`` (use it on the session's loop only).
    """

    token: str | None = None
    rate_limiter: Any = None

    def __init__(self, cfg: IbkrConfig) -> None:
        from ib_async import IB

        self.cfg = cfg
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="ibkr-session", daemon=True)
        self._thread.start()
        self.ib: Any = self.call(IB)
        self.ib.client.MaxRequests = int(cfg.max_messages_per_s)
        self._contract: Any = None
        self._lock = threading.Lock()
        self._closed = False

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    # ------------------------------------------------------------------ loop access
    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run ``fn(*args)`` on the session's loop; its result (a coroutine's is awaited).

        Raises:
            IbkrError: it did not finish within ``timeout`` s (default the config's).
            whatever ``fn`` raises.
        """
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                res = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)
                return
            if inspect.isawaitable(res):
                task = asyncio.ensure_future(res)
                task.add_done_callback(
                    lambda t: (
                        fut.set_exception(t.exception())
                        if t.exception() is not None
                        else fut.set_result(t.result())
                    )
                )
            else:
                fut.set_result(res)

        self.loop.call_soon_threadsafe(run)
        try:
            return fut.result(timeout or self.cfg.timeout_s * 2)
        except concurrent.futures.TimeoutError as exc:
            raise IbkrError(
                f"IBKR: no answer within {timeout or self.cfg.timeout_s * 2:g} s"
            ) from exc

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` on the loop without waiting (errors are logged)."""

        def run() -> None:
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - a fire-and-forget call
                log.exception("IBKR call %s failed", getattr(fn, "__name__", fn))

        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(run)

    # ------------------------------------------------------------------ connection
    @property
    def connected(self) -> bool:
        return bool(self.call(self.ib.isConnected))

    def connect(self) -> None:
        """Connect (no-op when connected): the API handshake and ib_async's start-up sync
        (positions, open and completed orders, account updates, executions).

        Raises:
            IbkrError: TWS / Gateway not reachable, or the client id is in use.
        """
        with self._lock:
            if self.call(self.ib.isConnected):
                return
            c = self.cfg
            try:
                self.call(
                    self.ib.connectAsync,
                    c.host,
                    c.port,
                    c.client_id,
                    c.timeout_s,
                    False,
                    c.account,
                    timeout=c.timeout_s * 4,
                )
            except (TimeoutError, OSError, ConnectionError) as exc:
                raise IbkrError(
                    f"IBKR: cannot connect to TWS / IB Gateway at {c.host}:{c.port} "
                    f"(client id {c.client_id}): {exc!r}; is it running with the API enabled? "
                    "(MIXBOT_IBKR_HOST / MIXBOT_IBKR_PORT override the config)"
                ) from exc
            self.call(self._no_delay)
            log.info("IBKR: connected to %s:%s as client %s", c.host, c.port, c.client_id)

    def _no_delay(self) -> None:
        """TCP_NODELAY on the API socket: an order and the next small request are not held
        back by Nagle's algorithm (ib_async leaves it on)."""
        transport = getattr(self.ib.client.conn, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def contract(self, symbol: str) -> Any:
        """The qualified contract of ``symbol`` (the config's sec type, exchange, currency),
        looked up once (``reqContractDetails``).

        Raises:
            IbkrError: unknown or ambiguous contract.
        """
        if self._contract is not None:
            return self._contract
        from ib_async import Contract

        self.connect()
        c = self.cfg
        want = Contract(
            symbol=symbol,
            secType=c.sec_type,
            exchange=c.exchange,
            primaryExchange=c.primary_exchange,
            currency=c.currency,
            lastTradeDateOrContractMonth=c.last_trade_date,
        )
        details = self.call(self.ib.reqContractDetailsAsync, want)
        if len(details) != 1:
            what = "unknown" if not details else f"ambiguous ({len(details)} contracts)"
            raise IbkrError(
                f"IBKR: contract {symbol} {c.sec_type} {c.exchange} {c.currency} is {what}; "
                "set ibkr.sec_type / exchange / currency / last_trade_date"
            )
        self._contract = details[0].contract
        return self._contract

    def account_value(self, tag: str) -> float | None:
        """An account value (``TotalCashValue``, ``NetLiquidation`` ...) in the base
        currency, or None when TWS did not send it."""

        def read() -> float | None:
            for v in self.ib.accountValues(self.cfg.account or ""):
                if v.tag == tag and v.currency not in ("", "BASE"):
                    return float(v.value)
            return None

        return self.call(read)

    def client(self, **kwargs: Any) -> Any:
        """The ``ib_async.IB`` of this session (connected)."""
        self.connect()
        return self.ib

    def close(self) -> None:
        """Disconnect and stop the loop thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.call(self.ib.disconnect, timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
