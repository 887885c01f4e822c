"""The OFFICIAL openalgo client (1.0.47) against our simulator: orders (place, list,
cancel), quotes, history, funds, positions, websocket market data, a refused key."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

openalgo = pytest.importorskip("openalgo")
from mixbot.simulators.openalgo import Simulator  # noqa: E402

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"


@pytest.fixture
def sim(data_dir: Path) -> Iterator[Simulator]:
    s = Simulator([str(data_dir / FILE)], end="2019-01-01", cash=1_000_000.0).start()
    try:
        yield s
    finally:
        s.stop()


def _client(sim: Simulator, key: str | None = None) -> object:
    return openalgo.api(api_key=key or sim.api_key, host=sim.host, ws_url=sim.ws_url)


def test_websocket_quotes_then_orders_fill_list_and_cancel(sim: Simulator) -> None:
    c = _client(sim)
    got: list[dict] = []
    arrived = threading.Event()

    def on_quote(msg: dict) -> None:
        got.append(msg)
        if len(got) >= 10:
            arrived.set()

    assert c.connect()
    assert c.subscribe_quote(
        [{"exchange": "NFO", "symbol": "BANKNIFTY"}], on_data_received=on_quote
    )
    sim.wait_subscribed(30)
    sim.step(2)  # 09:16 and 09:17: 5 quotes each
    assert arrived.wait(30)
    first = got[0]
    assert first["type"] == "market_data" and first["mode"] == 2
    assert first["data"]["open"] == 27300.20 and first["data"]["ltp"] == 27300.20
    assert got[9]["data"]["ltp"] == 27299.35  # the 09:17 bar's close
    c.disconnect()

    buy = c.placeorder(strategy="t", symbol="BANKNIFTY", exchange="NFO", action="BUY",
                       price_type="MARKET", product="MIS", quantity=20)  # fmt: skip
    assert buy["status"] == "success"
    far = c.placeorder(symbol="BANKNIFTY", exchange="NFO", action="SELL", price_type="LIMIT",
                       product="MIS", quantity=20, price=30000)  # fmt: skip
    book = c.orderbook()["data"]
    by_id = {o["orderid"]: o for o in book["orders"]}
    assert by_id[buy["orderid"]]["order_status"] == "complete"
    assert by_id[far["orderid"]]["order_status"] == "open"
    assert book["statistics"]["total_open_orders"] == 1
    assert c.orderstatus(order_id=buy["orderid"])["data"]["average_price"] == 27299.35
    assert c.cancelorder(order_id=far["orderid"])["status"] == "success"
    assert c.orderstatus(order_id=far["orderid"])["data"]["order_status"] == "cancelled"
    assert c.cancelorder(order_id=far["orderid"])["status"] == "error"  # already final

    (trade,) = c.tradebook()["data"]
    assert (trade["orderid"], trade["quantity"], trade["average_price"]) == (
        buy["orderid"],
        20,
        27299.35,
    )
    (pos,) = c.positionbook()["data"]
    assert (pos["symbol"], pos["quantity"], pos["product"]) == ("BANKNIFTY", 20, "MIS")
    funds = c.funds()["data"]
    assert float(funds["availablecash"]) == pytest.approx(1_000_000.0 - 20 * 27299.35)
    assert c.quotes(symbol="BANKNIFTY", exchange="NFO")["data"]["ltp"] == 27299.35
    hist = c.history(symbol="BANKNIFTY", exchange="NFO", interval="1m",
                     start_date="2019-01-01", end_date="2019-01-01")  # fmt: skip
    assert list(hist["close"]) == [27314.95, 27299.35]  # only bars completed by now
    assert str(hist.index[0]) == "2019-01-01 09:15:00+05:30"  # bar START, IST
    smart = c.placesmartorder(symbol="BANKNIFTY", exchange="NFO", action="SELL",
                              product="MIS", quantity=0, position_size=0)  # fmt: skip
    assert smart["status"] == "success"
    assert c.positionbook()["data"][0]["quantity"] == 0


def test_a_wrong_api_key_is_refused(sim: Simulator) -> None:
    bad = _client(sim, key="not-the-key")
    for answer in (bad.funds(), bad.orderbook(), bad.placeorder(
            symbol="BANKNIFTY", exchange="NFO", action="BUY", quantity=20)):  # fmt: skip
        assert answer["status"] == "error" and "403" in answer["message"]
    assert not bad.connect()  # the websocket refuses the key too
    assert sim.orders() == []
