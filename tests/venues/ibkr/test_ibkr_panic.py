"""`mixbot panic` for an IBKR bot: halts the bot in its store, cancels every open order of
the account (even another client's) and closes the position at MARKET, on the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ibkr_rig import config

ib_async = pytest.importorskip("ib_async")


def test_panic_cancels_everything_and_exits(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ib_async import IB, Contract, LimitOrder, MarketOrder

    from mixbot.store.repository import Store
    from mixbot.venues.ibkr.panic import panic_config

    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)
    bot = IB()  # the bot's own connection (client id 11), still up during the panic
    bot.connect("127.0.0.1", sim.port, clientId=11, timeout=10)
    try:
        (c,) = bot.qualifyContracts(Contract(symbol="BANKNIFTY", secType="FUT", exchange="NSE"))
        bought = bot.placeOrder(c, MarketOrder("BUY", 2, orderRef="ibkr-banknifty:1:entry"))
        tp = bot.placeOrder(c, LimitOrder("SELL", 2, 99_999.0, orderRef="ibkr-banknifty:1:tp"))
        deadline = 200
        while not (bought.isDone() and tp.orderStatus.status == "Submitted") and deadline:
            bot.sleep(0.02)
            deadline -= 1
        url = f"sqlite:///{tmp_path / 'live.sqlite'}"
        lines: list[str] = []
        code = panic_config(
            config(tmp_path, "p"),
            reason="test",
            confirm=lambda _p: True,
            say=lambda text, err=False: lines.append(text),
            database_url=url,
        )
        assert code == 0, lines
    finally:
        bot.disconnect()
    orders = sim.call(lambda: list(sim.exchange.orders.values()))
    assert all(o.final for o in orders)
    assert sim.exchange.by_ref("ibkr-banknifty:1:tp")[0].status == "Cancelled"
    assert sim.exchange.positions[c.conId][0] == 0
    store = Store(url, "ibkr-banknifty", "live", create=False)
    try:
        assert store.bot_row()["status"] == "halted"
    finally:
        store.close()
