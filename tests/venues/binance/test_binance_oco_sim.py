"""The simulator's OCO order list (``POST /api/v3/orderList/oco``) through ccxt and the order
layer: both legs rest with the BTC locked once; when the take-profit fills, the stop-loss is
EXPIRED, the account is flat in BTC and the commission is in the asset received."""

from __future__ import annotations

from typing import Any

import pytest

from mixbot.venues.binance.client import make_sync
from mixbot.venues.binance.config import BinanceConfig
from mixbot.venues.binance.orders import BinanceOrders


def test_oco_one_leg_fills_the_other_expires(sim_factory: Any) -> None:
    sim = sim_factory()
    bc = BinanceConfig.from_dict({"api_url": sim.api_url, "ws_url": sim.ws_url})
    o = BinanceOrders(make_sync(bc, "sim-key", "sim-secret"), "BTCUSDT")
    entry = o.place("t:1:entry", "BUY", "MARKET", 0.02)
    assert entry["fee"] == {"currency": "BTC", "cost": pytest.approx(2e-05)}
    last = sim.account.last_price
    res = o.place_oco("t:1:sl", "t:1:tp", 0.01998, last * 1.003, last * 0.997, last * 0.995)
    assert [x["clientOrderId"] for x in res["orders"]] == ["t:1:sl", "t:1:tp"]
    bal = {b["asset"]: b for b in sim.account.balances()}
    assert float(bal["BTC"]["locked"]) == pytest.approx(0.01998)  # locked once, not twice
    sim.step(60)  # 00:00..01:00 of 2023-03-02: the high passes the take-profit
    assert o.find("t:1:tp")["status"] == "closed"  # type: ignore[index]
    assert o.find("t:1:sl")["info"]["status"] == "EXPIRED"  # type: ignore[index]
    free, locked = o.balances()["BTC"]
    assert free == pytest.approx(0.0) and locked == pytest.approx(0.0)
    tp = next(x for x in sim.account.orders.values() if x.client_id == "t:1:tp")
    assert tp.fills[0]["commissionAsset"] == "USDT" and tp.list_id == res["orderListId"]
    assert o.trades(str(tp.order_id))[0]["orderListId"] == res["orderListId"]
