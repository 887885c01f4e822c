"""The IBKR kill switch (``mixbot panic`` for a bot on broker ``ibkr``): halt the bot in its
store, cancel every open order of the account (``reqGlobalCancel``), close every position at
MARKET, and report what is left.

The panic connects with its own client id (``ibkr.client_id`` + :data:`CLIENT_ID_OFFSET`):
the bot may still be connected under its own. ``reqGlobalCancel`` cancels the orders of
every client of the account (TWS API docs, https://interactivebrokers.github.io/tws-api/
cancel_order.html: it "will cancel all open orders, regardless of how they were originally
placed"; ``cancelOrder`` only works for the client id that placed the order). The exit orders are tagged
``pn<epoch s>-<n>`` (orderRef), so they are not mistaken for the bot's. Waits (at most
``WAIT_S`` wall seconds each) are for IB's answers only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: Added to the bot's client id for the panic's own connection.
CLIENT_ID_OFFSET = 1000
#: Seconds to wait for the cancels / the exit fills.
WAIT_S = 30.0


def _wait(session: Any, cond: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if session.call(cond):
            return True
        time.sleep(0.05)
    return bool(session.call(cond))


def _halt(cfg: Any, reason: str, database_url: str | None, say: Callable[..., None]) -> bool:
    from mixbot.config.digest import config_hash
    from mixbot.store.db import resolve_url
    from mixbot.store.repository import Store

    store = Store(database_url or resolve_url(cfg.database_url, "live"), cfg.bot_id, "live")
    try:
        if store.find_bot() is None:
            store.register(config_hash(cfg), str(cfg.source_file))
        store.event("panic", f"PANIC: {reason}", data={"venue": "ibkr"})
        store.set_status("halted")
        say("bot status: halted")
        return True
    except Exception as exc:  # noqa: BLE001 - the kill switch goes on without the store
        say(f"cannot halt the bot in its store: {exc}", err=True)
        return False
    finally:
        store.close()


def _cancel_all(session: Any, say: Callable[..., None]) -> bool:
    ib = session.ib

    def still_open() -> bool:
        return not any(not t.isDone() for t in ib.openTrades())

    session.call(ib.reqGlobalCancel)
    session.call(ib.reqAllOpenOrdersAsync)
    ok = _wait(session, still_open)
    say("open orders: all cancelled" if ok else "open orders: some still open", err=not ok)
    return ok


def _exit_all(session: Any, say: Callable[..., None]) -> bool:
    from ib_async import MarketOrder

    ib = session.ib
    stamp = int(time.time())
    positions = [p for p in session.call(ib.positions) if p.position]
    trades = []
    for n, p in enumerate(positions):
        side = "SELL" if p.position > 0 else "BUY"
        order = MarketOrder(side, abs(p.position), orderRef=f"pn{stamp}-{n}")
        contract = p.contract
        if not contract.exchange:
            contract.exchange = session.cfg.exchange
        trades.append(session.call(ib.placeOrder, contract, order))
        say(f"exit {contract.symbol}: {side} {abs(p.position):g} at MARKET")
    ok = _wait(session, lambda: all(t.orderStatus.status == "Filled" for t in trades))
    left = [p for p in session.call(ib.positions) if p.position]
    for p in left:
        say(f"  still open: {p.contract.symbol} {p.position:g}", err=True)
    return ok and not left


def panic_config(
    cfg: Any,
    *,
    reason: str,
    confirm: Callable[[str], bool],
    say: Callable[..., None],
    database_url: str | None = None,
) -> int:
    """The IBKR venue's panic hook (:class:`mixbot.venues.base.PanicHook`; module docstring).

    Returns:
        0 when the bot is halted with no open order or position left, else 1 (also when
        ``confirm`` says no: nothing is done then).
    """
    from dataclasses import replace

    from mixbot.venues.ibkr.config import IbkrConfig
    from mixbot.venues.ibkr.session import IbkrError, IbkrSession

    c = IbkrConfig.of(cfg)
    say(
        f"PANIC for bot {cfg.bot_id!r} (ibkr, {c.host}:{c.port}): cancel every open order "
        "and exit every position of the IB account at MARKET, then halt the bot."
    )
    if not confirm("Type 'yes' to go on: "):
        say("aborted: nothing was done")
        return 1
    halted = _halt(cfg, reason, database_url, say)
    session = IbkrSession(replace(c, client_id=c.client_id + CLIENT_ID_OFFSET))
    try:
        session.connect()
        ok = _cancel_all(session, say) & _exit_all(session, say)
    except IbkrError as exc:
        say(f"IBKR: {exc}", err=True)
        ok = False
    finally:
        session.close()
    if ok and halted:
        say("done: bot halted, no open order or position left")
        return 0
    say("done WITH PROBLEMS: check the IB account's orders and positions now", err=True)
    return 1
