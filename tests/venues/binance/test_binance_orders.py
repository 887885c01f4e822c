"""The order layer (:mod:`mixbot.venues.binance.orders`) on ccxt against the simulator:
filters, client order ids, fills from execution reports over the WebSocket API, rejected
orders, and crash recovery: a restarted bot finds its orders by client order id and sends
none twice."""

from __future__ import annotations

from typing import Any

import pytest
from tests.venues.binance.rig import wait_until

from mixbot.venues.binance.client import make_sync
from mixbot.venues.binance.config import BinanceConfig
from mixbot.venues.binance.orders import BinanceOrders, FillBook, OrderRefused, client_order_id
from mixbot.venues.binance.userdata import UserDataStream


def _orders(sim: Any, secret: str = "sim-secret") -> BinanceOrders:
    bc = BinanceConfig.from_dict({"api_url": sim.api_url, "ws_url": sim.ws_url})
    return BinanceOrders(make_sync(bc, "sim-key", secret), "BTCUSDT")


def test_filters_round_and_refuse(sim_factory: Any) -> None:
    o = _orders(sim_factory())
    f = o.filters
    assert (f.step, f.tick, f.min_notional) == (1e-05, 0.01, 5.0)
    assert f.qty(0.0123456) == pytest.approx(0.01234)
    assert f.price(23000.129, "BUY") == pytest.approx(23000.12)
    assert f.price(23000.121, "SELL") == pytest.approx(23000.13)
    with pytest.raises(OrderRefused, match="MIN_NOTIONAL"):
        o.place("t:1:entry", "BUY", "LIMIT", 0.0001, 20000.0)  # 2 USDT
    with pytest.raises(OrderRefused, match="LOT_SIZE"):
        o.place("t:1:entry", "BUY", "LIMIT", 0.000001, 20000.0)
    assert o.sent == 0


def test_client_order_ids_fit_binance() -> None:
    assert client_order_id("bot:12:entry") == "bot:12:entry"
    long = client_order_id("a-very-long-bot-identifier-name:123456:entry")
    assert len(long) == 36 and long != client_order_id(
        "a-very-long-bot-identifier-name:123457:entry"
    )
    assert client_order_id("bot 1:2:sl").startswith("bot_1:2:sl-")


def test_fills_from_execution_reports_and_rejections(sim_factory: Any) -> None:
    sim = sim_factory()
    o = _orders(sim)
    book = FillBook()
    stream = UserDataStream(f"{sim.ws_url}/ws-api/v3", "sim-key", "sim-secret", book.apply).start()
    try:
        assert stream.subscribed.wait(30)
        o.place("t:1:entry", "BUY", "MARKET", 0.02)
        o.place("t:1:tp", "SELL", "LIMIT", 0.019, 23700.0)
        sim.reject_orders(1)
        with pytest.raises(OrderRefused, match="rejected"):
            o.place("t:2:entry", "BUY", "MARKET", 0.01)
        sim.step(30)  # 00:00..00:30 of 2023-03-02: the high passes 23700
        assert wait_until(lambda: book.by_client.get("t:1:tp") is not None
                          and book.by_client["t:1:tp"].status == "FILLED")  # fmt: skip
    finally:
        stream.stop()
    entry, tp = book.by_client["t:1:entry"], book.by_client["t:1:tp"]
    assert entry.qty == pytest.approx(0.02) and entry.commission == {"BTC": pytest.approx(2e-05)}
    assert tp.avg_price >= 23700.0 and set(tp.commission) == {"USDT"}
    assert tp.commission["USDT"] == pytest.approx(tp.quote * 0.001)


def test_a_wrong_secret_cannot_subscribe(sim_factory: Any) -> None:
    sim = sim_factory()
    stream = UserDataStream(f"{sim.ws_url}/ws-api/v3", "sim-key", "wrong", lambda e: None).start()
    stream._thread.join(30)  # type: ignore[union-attr]
    assert stream.error == "Signature for this request is not valid."


def test_a_restart_finds_the_orders_by_client_id_and_sends_none_twice(sim_factory: Any) -> None:
    sim = sim_factory()
    first = _orders(sim)
    first.place("bot:7:entry", "BUY", "MARKET", 0.01)
    stop, sent = first.place_once("bot:7:sl", "SELL", "STOP_LOSS_LIMIT", 0.00999, 23000.0,
                                  stop=23100.0)  # fmt: skip
    assert sent
    del first  # the bot process dies here

    again = _orders(sim)  # the restarted bot: new client, new markets
    found, sent = again.place_once("bot:7:sl", "SELL", "STOP_LOSS_LIMIT", 0.00999, 23000.0,
                                   stop=23100.0)  # fmt: skip
    assert not sent and found["id"] == stop["id"] and found["status"] == "open"
    assert again.find("bot:7:entry")["status"] == "closed"  # type: ignore[index]
    assert again.find("bot:8:entry") is None
    assert again.sent == 0
    assert [o.client_id for o in sim.account.orders.values()] == ["bot:7:entry", "bot:7:sl"]
    assert again.cancel("bot:7:sl")["status"] == "canceled"  # type: ignore[index]
    assert again.cancel("bot:7:sl") is None
