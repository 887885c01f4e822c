"""The official client, ib_async 2.1.0, against the simulator: it connects (handshake,
start-up sync), qualifies a contract, gets historical bars and real-time bars equal to the
real file, gets orders filled (executions and commission reports) and cancelled, and finds
its orders again after reconnecting. The simulator runs in lockstep: the test moves its
clock with ``reqCurrentTime`` (no wall-clock timing); waits are on conditions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ib_async = pytest.importorskip("ib_async")
from ib_async import IB, Contract, LimitOrder, MarketOrder, StopOrder  # noqa: E402


def wait_for(ib: Any, cond: Callable[[], bool], timeout: float = 20.0) -> None:
    """Run the client's loop until ``cond()`` holds (a hang guard, not a timing)."""
    deadline = dt.datetime.now() + dt.timedelta(seconds=timeout)
    while not cond():
        assert dt.datetime.now() < deadline, "condition not met"
        ib.sleep(0.01)


@pytest.fixture
def ib(sim: Any) -> Iterator[Any]:
    client = IB()
    client.connect("127.0.0.1", sim.port, clientId=5, timeout=10)
    yield client
    client.disconnect()


def banknifty(ib: Any) -> Any:
    c = Contract(symbol="BANKNIFTY", secType="FUT", exchange="NSE", currency="INR")
    (q,) = ib.qualifyContracts(c)
    return q


def step(ib: Any, sim: Any, minutes: int = 1) -> None:
    """Acknowledge ``minutes`` minutes (the lockstep clock) and wait until published."""
    for _ in range(minutes):
        before = sim.cursor
        ib.client.reqCurrentTime()
        wait_for(ib, lambda before=before: sim.cursor > before)


def test_connect_and_qualify(sim: Any, ib: Any) -> None:
    assert ib.isConnected() and ib.client.serverVersion() == 178
    assert ib.managedAccounts() == ["DU1234567"]
    cash = {v.tag: v.value for v in ib.accountValues()}
    assert float(cash["TotalCashValue"]) == 1_000_000.0
    c = banknifty(ib)
    assert c.conId == 265598 and c.multiplier == "20" and c.secType == "FUT"
    assert c.lastTradeDateOrContractMonth == "20190628"
    (details,) = ib.reqContractDetails(c)
    assert details.minTick == 0.05 and details.timeZoneId == "Asia/Kolkata"
    assert ib.qualifyContracts(Contract(symbol="NOPE", secType="STK", exchange="NSE")) == [None]


def test_history_is_the_file(sim: Any, ib: Any) -> None:
    c = banknifty(ib)
    bars = ib.reqHistoricalData(c, "", "1 D", "1 min", "TRADES", True, formatDate=2)
    inst = sim.instruments[0]
    n = inst.upto(sim.now_s)
    assert len(bars) == n - inst.upto(int(bars[0].date.timestamp()))
    last = inst.bar(n - 1)
    b = bars[-1]
    assert int(b.date.timestamp()) + 60 == last[0]  # IB labels bars by their start
    assert (b.open, b.high, b.low, b.close, b.volume) == last[1:]
    # formatDate 1: the exchange's local time
    b1 = ib.reqHistoricalData(c, "", "1 D", "1 min", "TRADES", True, formatDate=1)[-1]
    assert b1.date.utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert int(b1.date.timestamp()) == int(b.date.timestamp())


def test_realtime_bars_make_the_files_minutes(sim: Any, ib: Any) -> None:
    c = banknifty(ib)
    rt = ib.reqRealTimeBars(c, 5, "TRADES", False)
    wait_for(ib, lambda: len(rt) == 12)
    step(ib, sim, 2)
    wait_for(ib, lambda: len(rt) == 36)
    inst = sim.instruments[0]
    for k in range(3):
        chunk = rt[12 * k : 12 * (k + 1)]
        end = int(chunk[-1].time.timestamp()) + 5
        i = inst.upto(end) - 1
        assert int(inst.end_s[i]) == end
        got = (chunk[0].open_, max(b.high for b in chunk), min(b.low for b in chunk),
               chunk[-1].close, sum(b.volume for b in chunk))  # fmt: skip
        assert got == inst.bar(i)[1:]
    ib.cancelRealTimeBars(rt)


def test_market_order_filled_with_commission(sim: Any, ib: Any) -> None:
    c = banknifty(ib)
    rt = ib.reqRealTimeBars(c, 5, "TRADES", False)
    wait_for(ib, lambda: len(rt) == 12)  # the first minute is out: the last price is set
    trade = ib.placeOrder(c, MarketOrder("BUY", 2, orderRef="t:1:entry"))
    wait_for(ib, lambda: trade.orderStatus.status == "Filled" and trade.fills
             and trade.fills[-1].commissionReport.execId != "")  # fmt: skip
    last_close = sim.instruments[0].bar(sim.instruments[0].upto(sim.now_s) - 1)[4]
    (fill,) = trade.fills
    assert fill.execution.shares == 2 and fill.execution.price == last_close
    assert fill.execution.orderRef == "t:1:entry" and fill.execution.side == "BOT"
    assert fill.commissionReport.commission == pytest.approx(2 * 20 * last_close * 0.0003)
    assert fill.commissionReport.currency == "INR"
    wait_for(ib, lambda: any(p.position == 2 for p in ib.positions()))


def test_limit_cancelled_and_stop_filled_by_later_minute(sim: Any, ib: Any) -> None:
    c = banknifty(ib)
    rt = ib.reqRealTimeBars(c, 5, "TRADES", False)
    wait_for(ib, lambda: len(rt) == 12)
    far = ib.placeOrder(c, LimitOrder("SELL", 1, 99_999.0, orderRef="t:2:tp"))
    wait_for(ib, lambda: far.orderStatus.status == "Submitted")
    ib.cancelOrder(far.order)
    wait_for(ib, lambda: far.orderStatus.status == "Cancelled")
    # a buy stop just above the last close: filled on the first later minute reaching it
    inst = sim.instruments[0]
    i = inst.upto(sim.now_s)
    j = next(k for k in range(i, i + 300) if inst.h[k] > inst.c[i - 1] + 5)
    stop = float(inst.c[i - 1]) + 5
    st = ib.placeOrder(c, StopOrder("BUY", 1, stop, orderRef="t:2:sl"))
    wait_for(ib, lambda: st.orderStatus.status == "Submitted")
    step(ib, sim, j - i + 1)
    wait_for(ib, lambda: st.orderStatus.status == "Filled")
    want = float(inst.o[j]) if inst.o[j] >= stop else stop
    assert st.fills[0].execution.price == want
    assert st.fills[0].execution.time == dt.datetime.fromtimestamp(int(inst.end_s[j]) - 60, dt.UTC)


def test_oca_group_cancels_the_sibling(sim: Any, ib: Any) -> None:
    c = banknifty(ib)
    a = LimitOrder("BUY", 1, 99_999.0, orderRef="t:3:a", ocaGroup="g3", ocaType=1)
    b = LimitOrder("BUY", 1, 1.0, orderRef="t:3:b", ocaGroup="g3", ocaType=1)
    tb = ib.placeOrder(c, b)
    ta = ib.placeOrder(c, a)
    ib.reqRealTimeBars(c, 5, "TRADES", False)
    step(ib, sim)
    wait_for(ib, lambda: ta.orderStatus.status == "Filled" and tb.orderStatus.status == "Cancelled")


def test_errors_unknown_order_type_and_client_id_in_use(sim: Any, ib: Any) -> None:
    c = banknifty(ib)
    seen: list[int] = []
    ib.errorEvent += lambda req, code, text, contract=None: seen.append(code)
    from ib_async import Order

    ib.placeOrder(c, Order(action="BUY", totalQuantity=1, orderType="MOC", orderRef="t:4:x"))
    wait_for(ib, lambda: 387 in seen)
    other = IB()
    with pytest.raises(Exception):  # noqa: B017 - ib_async raises its own on a refused id
        other.connect("127.0.0.1", sim.port, clientId=5, timeout=1)
    assert not other.isConnected()


def test_reconnect_finds_orders_by_order_ref(sim: Any, ib: Any) -> None:
    c = banknifty(ib)
    filled = ib.placeOrder(c, MarketOrder("BUY", 1, orderRef="t:5:entry"))
    working = ib.placeOrder(c, LimitOrder("SELL", 1, 99_999.0, orderRef="t:5:tp"))
    wait_for(ib, lambda: filled.orderStatus.status == "Filled"
             and working.orderStatus.status == "Submitted")  # fmt: skip
    ib.disconnect()
    again = IB()
    again.connect("127.0.0.1", sim.port, clientId=5, timeout=10)
    try:
        by_ref = {t.order.orderRef: t for t in again.trades()}
        assert by_ref["t:5:entry"].orderStatus.status == "Filled"
        assert by_ref["t:5:tp"].orderStatus.status == "Submitted"
        assert by_ref["t:5:tp"].order.orderId == working.order.orderId
        fills = [f for f in again.fills() if f.execution.orderRef == "t:5:entry"]
        assert len(fills) == 1 and fills[0].commissionReport.commission > 0
        # new order ids continue after the old ones
        assert again.client.getReqId() > working.order.orderId
    finally:
        again.disconnect()
