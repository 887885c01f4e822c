"""The simulator's exchange: order routes, matching on replayed ticks, portfolio, faults, SDK."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from mixbot.simulators.upstox import Simulator
from mixbot.simulators.upstox.exchange import to_tick

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
HANG_GUARD_S = 60.0  # real seconds; only bounds waits for what must happen
KEY = "NSE_FO|35005"  # lot 20, freeze 1200


@pytest.fixture
def make_sim(data_dir: Path, tmp_path: Path) -> Iterator[Any]:
    sims: list[Simulator] = []

    def make(**kw: Any) -> Simulator:
        kw = {"start": "2019-01-03", "end": "2019-01-04", **kw}
        s = Simulator(files=[data_dir / FILE], speed=0, tls_dir=tmp_path / f"t{len(sims)}", **kw)
        sims.append(s.start())
        return s

    yield make
    for s in sims:
        s.stop()


def order(
    qty: int = 20, order_type: str = "MARKET", side: str = "BUY", **kw: Any
) -> dict[str, Any]:
    body = {
        "quantity": qty, "product": "I", "validity": "DAY", "price": 0, "tag": None,
        "instrument_token": KEY, "order_type": order_type, "transaction_type": side,
        "disclosed_quantity": 0, "trigger_price": 0, "is_amo": False, "slice": False,
    }  # fmt: skip
    body.update(kw)
    return body


class Client:
    """REST calls plus the market-data websocket that drives the (speed 0) replay."""

    def __init__(self, sim: Simulator, session: aiohttp.ClientSession) -> None:
        self.sim, self.s = sim, session
        self.ssl = ssl.create_default_context(cafile=str(sim.ca_path))
        self.h = {"Authorization": f"Bearer {sim.token}"}
        self.ticks: list[tuple[int, float]] = []  # every tick (ltt, ltp) seen so far
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = self.sim.base_url + path
        async with self.s.request(method, url, json=body, headers=self.h, ssl=self.ssl) as r:
            return r.status, await r.json()

    async def subscribe(self) -> None:
        _, auth = await self.call("GET", "/v3/feed/market-data-feed/authorize")
        self.ws = await self.s.ws_connect(auth["data"]["authorized_redirect_uri"], ssl=self.ssl)
        await self.resume()

    async def resume(self) -> None:
        """(Re)subscribe: the speed-0 replay plays while someone is subscribed."""
        assert self.ws is not None
        req = {"guid": "g", "method": "sub", "data": {"mode": "ltpc", "instrumentKeys": [KEY]}}
        await self.ws.send_bytes(json.dumps(req).encode())

    async def pause(self) -> None:
        """Unsubscribe and wait until the replay waits for a subscriber (deterministic placements:
        the clients' socket buffers otherwise let the replay run far ahead)."""
        assert self.ws is not None
        req = {"guid": "g", "method": "unsub", "data": {"instrumentKeys": [KEY]}}
        await self.ws.send_bytes(json.dumps(req).encode())
        for _ in range(int(HANG_GUARD_S / 0.01)):  # the simulator says when it waits
            if self.sim.replay.idle:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("hang guard: the replay did not stop")

    async def read(self, n: int) -> None:
        """Read ``n`` live ticks."""
        assert self.ws is not None
        got = 0
        while got < n:
            msg = await asyncio.wait_for(self.ws.receive(), 10)
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            fr = pb.FeedResponse()
            fr.ParseFromString(msg.data)
            if fr.type == pb.live_feed and KEY in fr.feeds:
                ltpc = fr.feeds[KEY].ltpc
                self.ticks.append((int(ltpc.ltt), round(ltpc.ltp, 2)))
                got += 1

    async def until(self, cond: Any, limit: int = 12_000) -> None:
        """Resume and read ticks until ``cond()`` holds (fails after ``limit`` ticks), pause."""
        await self.resume()
        for _ in range(limit):
            if cond():
                return await self.pause()
            await self.read(1)
        raise AssertionError("condition not reached")

    async def until_seen(self, ltt: int) -> None:
        """Read the (already sent) stream up to the tick at ``ltt``."""
        while not self.ticks or self.ticks[-1][0] < ltt:
            await self.read(1)

    def after(self, ltt: int) -> list[tuple[int, float]]:
        return [t for t in self.ticks if t[0] > ltt]

    async def place(self, body: dict[str, Any]) -> str:
        status, res = await self.call("POST", "/v3/order/place", body)
        assert status == 200, res
        return str(res["data"]["order_ids"][0])


@asynccontextmanager
async def client(sim: Simulator, subscribe: bool = True) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as s:
        c = Client(sim, s)
        if subscribe:
            await c.subscribe()
            await c.read(1)  # the session is open, prices flow
            await c.pause()
        yield c
        if c.ws is not None:
            await c.ws.close()


def status_of(sim: Simulator, oid: str) -> str:
    row = sim.exchange.order(oid)
    assert row is not None
    return str(row["status"])


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------- matching


def test_market_fills_at_next_tick_with_slippage(make_sim: Any) -> None:
    sim = make_sim(slippage_bps=5, end="2019-01-03")  # one day: positions never roll

    async def go() -> None:
        async with client(sim) as c:
            buy = await c.place(order(40, tag="mkt"))
            await c.until(lambda: status_of(sim, buy) == "complete")
            sell = await c.place(order(40, side="SELL"))
            await c.until(lambda: status_of(sim, sell) == "complete")
            for f in sim.exchange.fills():
                await c.until_seen(f.tick_ltt)
                nxt = c.after(f.after_ltt)[0]  # the first tick after acceptance
                assert (f.tick_ltt, f.tick_price) == nxt
                sign = 1 if f.order_id == buy else -1
                assert f.price == to_tick(nxt[1] * (1 + sign * 5 / 10_000))
            fb, fs = sim.exchange.fills()
            row = sim.exchange.order(buy)
            assert row is not None and row["average_price"] == fb.price
            assert row["filled_quantity"] == 40 and row["pending_quantity"] == 0
            _, pos = await c.call("GET", "/v2/portfolio/short-term-positions")
            p = pos["data"][0]
            assert p["quantity"] == 0 and p["day_buy_quantity"] == p["day_sell_quantity"] == 40
            assert p["realised"] == pytest.approx(40 * (fs.price - fb.price))
            _, funds = await c.call("GET", "/v2/user/get-funds-and-margin?segment=SEC")
            eq = funds["data"]["equity"]
            assert eq["used_margin"] == 0
            assert eq["available_margin"] == pytest.approx(10_000_000 + p["realised"], abs=0.01)

    run(go())


def test_limit_fills_at_limit_when_crossed(make_sim: Any) -> None:
    sim = make_sim()

    async def go() -> None:
        async with client(sim) as c:
            ltp = sim.exchange.ltps()[KEY]
            limit = to_tick(ltp - 15)
            oid = await c.place(order(order_type="LIMIT", price=limit, tag="lim"))
            assert status_of(sim, oid) in ("open", "complete")  # the replay runs meanwhile
            await c.until(lambda: status_of(sim, oid) == "complete")
            (f,) = sim.exchange.fills()
            assert f.price == limit and f.tick_price <= limit
            await c.until_seen(f.tick_ltt)
            before = [p for t, p in c.after(f.after_ltt) if t < f.tick_ltt]
            assert all(p > limit for p in before)  # no earlier tick crossed

    run(go())


def test_sl_m_triggers_then_fills_at_next_tick(make_sim: Any) -> None:
    sim = make_sim()

    async def go() -> None:
        async with client(sim) as c:
            trig = to_tick(sim.exchange.ltps()[KEY] - 10)
            oid = await c.place(order(order_type="SL-M", side="SELL", trigger_price=trig))
            assert status_of(sim, oid) in ("trigger pending", "open", "complete")
            await c.until(lambda: status_of(sim, oid) == "complete")
            (f,) = sim.exchange.fills()
            await c.until_seen(f.tick_ltt)
            seq = c.after(f.after_ltt)
            hit = next(i for i, (_, p) in enumerate(seq) if p <= trig)
            assert seq[hit + 1] == (f.tick_ltt, f.price)  # MARKET at the tick after the trigger
            _, hist = await c.call("GET", f"/v2/order/history?order_id={oid}")
            statuses = [h["status"] for h in hist["data"]]
            assert statuses[-3:] == ["trigger pending", "open", "complete"]

    run(go())


def test_ioc_and_partial_fills(make_sim: Any) -> None:
    sim = make_sim()

    async def go() -> None:
        async with client(sim) as c:
            far = to_tick(sim.exchange.ltps()[KEY] - 500)
            ioc = await c.place(order(order_type="LIMIT", price=far, validity="IOC"))
            await c.until(lambda: status_of(sim, ioc) == "cancelled")
            assert sim.exchange.order(ioc)["filled_quantity"] == 0  # type: ignore[index]
            sim.faults.partial_fill(0.25)
            part = await c.place(order(100, validity="IOC"))  # 25% = 25 -> one lot per tick
            await c.until(lambda: status_of(sim, part) == "cancelled")
            row = sim.exchange.order(part)
            assert row is not None and row["filled_quantity"] == 20
            day = await c.place(order(100))  # DAY: one lot per tick until complete
            await c.until(lambda: status_of(sim, day) == "complete")
            assert [f.qty for f in sim.exchange.fills() if f.order_id == day] == [20] * 5

    run(go())


# ---------------------------------------------------------------- validation, slicing


def test_lot_size_freeze_and_slicing(make_sim: Any) -> None:
    sim = make_sim(cash=1e9)

    async def go() -> None:
        async with client(sim, subscribe=False) as c:
            st, res = await c.call("POST", "/v3/order/place", order(30))
            assert st == 400 and res["status"] == "error"
            assert "lot size" in res["errors"][0]["message"]
            assert res["errors"][0]["propertyPath"] == "quantity"
            st, res = await c.call("POST", "/v3/order/place", order(2500))
            assert st == 400 and "freeze" in res["errors"][0]["message"]
            st, res = await c.call("POST", "/v3/order/place", order(2500, slice=True, tag="big"))
            assert st == 200 and len(res["data"]["order_ids"]) == 3
            assert isinstance(res["metadata"]["latency"], int)
            assert sorted(o["quantity"] for o in sim.exchange.orders("big")) == [100, 1200, 1200]
            st, res = await c.call("POST", "/v3/order/place", order(1200 * 25 + 20, slice=True))
            assert st == 400 and res["errors"][0]["errorCode"] == "UDAPI1118"
            cases = [
                (order(0), "UDAPI1052"),
                (order(instrument_token="NSE_FO|1"), "UDAPI100011"),
                (order(instrument_token=None), "UDAPI1026"),
                (order(order_type="STOP"), "UDAPI1056"),
                (order(validity=None), "UDAPI1007"),
                (order(order_type="LIMIT"), "UDAPI1029"),
                (order(order_type="SL", price=100.0), "UDAPI1036"),
                (order(tag="x" * 41), "UDAPI1119"),
            ]
            for body, code in cases:
                st, res = await c.call("POST", "/v3/order/place", body)
                assert (st, res["errors"][0]["errorCode"]) == (400, code), body
                assert res["errors"][0]["error_code"] == code
            assert sim.exchange.count_orders() == 3

    run(go())


def test_modify_cancel_book_history_trades_shapes(make_sim: Any) -> None:
    upstox_client = pytest.importorskip("upstox_client")
    sim = make_sim()

    def keys(model: str) -> set[str]:
        return set(getattr(upstox_client, model).attribute_map.values())

    async def go() -> None:
        async with client(sim) as c:
            ltp = sim.exchange.ltps()[KEY]
            oid = await c.place(order(order_type="LIMIT", price=to_tick(ltp - 400), tag="t"))
            st, res = await c.call(
                "PUT", "/v3/order/modify",
                {"order_id": oid, "price": to_tick(ltp + 400), "order_type": "LIMIT",
                 "validity": "DAY", "quantity": 40, "trigger_price": 0},
            )  # fmt: skip
            assert st == 200 and res["data"] == {"order_id": oid} and "latency" in res["metadata"]
            await c.until(lambda: status_of(sim, oid) == "complete")
            assert sim.exchange.fills()[0].price == to_tick(ltp + 400)  # at the (new) limit
            st, res = await c.call("PUT", "/v3/order/modify", {"order_id": oid, "quantity": 60})
            assert (st, res["errors"][0]["errorCode"]) == (400, "UDAPI100041")
            other = await c.place(order(order_type="LIMIT", price=to_tick(ltp - 400), tag="t"))
            st, res = await c.call("DELETE", f"/v3/order/cancel?order_id={other}")
            assert st == 200 and res["data"] == {"order_id": other}
            st, res = await c.call("DELETE", f"/v3/order/cancel?order_id={other}")
            assert (st, res["errors"][0]["errorCode"]) == (400, "UDAPI100040")
            st, res = await c.call("DELETE", "/v3/order/cancel?order_id=1")
            assert (st, res["errors"][0]["errorCode"]) == (400, "UDAPI100010")
            _, book = await c.call("GET", "/v2/order/retrieve-all")
            assert [(o["order_id"], o["status"]) for o in book["data"]] == [
                (oid, "complete"), (other, "cancelled"),
            ]  # fmt: skip
            assert keys("OrderBookData") <= set(book["data"][0])
            _, det = await c.call("GET", f"/v2/order/details?order_id={oid}")
            assert det["data"]["filled_quantity"] == 40 and det["data"]["quantity"] == 40
            _, hist = await c.call("GET", "/v2/order/history?tag=t")
            assert {h["order_id"] for h in hist["data"]} == {oid, other}
            assert [h["status"] for h in hist["data"] if h["order_id"] == other][-2:] == [
                "cancel pending", "cancelled",
            ]  # fmt: skip
            assert keys("OrderData") <= set(hist["data"][0])
            _, trades = await c.call("GET", "/v2/order/trades/get-trades-for-day")
            assert len(trades["data"]) == 1 and keys("TradeData") <= set(trades["data"][0])
            _, pos = await c.call("GET", "/v2/portfolio/short-term-positions")
            assert keys("PositionData") <= set(pos["data"][0]) and pos["data"][0]["quantity"] == 40
            _, funds = await c.call("GET", "/v2/user/get-funds-and-margin")
            assert set(funds["data"]) == {"equity", "commodity"}
            assert keys("UserFundMarginData") <= set(funds["data"]["equity"])
            assert funds["data"]["equity"]["used_margin"] > 0
            _, hold = await c.call("GET", "/v2/portfolio/long-term-holdings")
            assert hold == {"status": "success", "data": []}

    run(go())


# ---------------------------------------------------------------- faults


def test_order_faults_reject_5xx_and_dropped_response(make_sim: Any) -> None:
    sim = make_sim()

    async def go() -> None:
        async with client(sim, subscribe=False) as c:
            st, res = await c.call("POST", "/_sim/faults", {"reject_orders": 1,
                                                             "reject_reason": "RMS: blocked"})  # fmt: skip
            assert st == 200 and res["data"]["reject_orders_left"] == 1
            oid = await c.place(order(tag="rej"))
            row = sim.exchange.order(oid)
            assert row is not None and (row["status"], row["status_message"]) == (
                "rejected", "RMS: blocked",
            )  # fmt: skip
            sim.faults.order_errors(1, status=503)
            st, res = await c.call("POST", "/v3/order/place", order(tag="err"))
            assert st == 503 and res["errors"][0]["errorCode"] == "UDAPI100500"
            assert sim.exchange.count_orders(tag="err") == 0
            sim.faults.drop_order_responses(1)
            with pytest.raises(aiohttp.ClientError):
                await c.call("POST", "/v3/order/place", order(tag="lost"))
            assert sim.exchange.count_orders(tag="lost") == 1
            st, hist = await c.call("GET", "/v2/order/history?tag=lost")
            assert st == 200 and len({h["order_id"] for h in hist["data"]}) == 1
            oid2 = await c.place(order(tag="after"))  # the next place is answered again
            assert sim.exchange.order(oid2) is not None

    run(go())


# ---------------------------------------------------------------- portfolio stream


def test_portfolio_stream_order_updates(make_sim: Any) -> None:
    sim = make_sim()

    async def go() -> None:
        async with client(sim) as c:
            _, auth = await c.call("GET", "/v2/feed/portfolio-stream-feed/authorize")
            uri = auth["data"]["authorized_redirect_uri"]
            assert uri == auth["data"]["authorizedRedirectUri"] and uri.startswith("wss://")
            pws = await c.s.ws_connect(uri, ssl=c.ssl)
            ltp = sim.exchange.ltps()[KEY]
            resting = await c.place(order(order_type="LIMIT", price=to_tick(ltp - 400), tag="p"))
            await c.call("DELETE", f"/v3/order/cancel?order_id={resting}")
            filled = await c.place(order(tag="p"))
            await c.until(lambda: status_of(sim, filled) == "complete")
            seen: dict[str, list[dict[str, Any]]] = {}
            while len(seen.get(filled, [])) == 0 or seen[filled][-1]["status"] != "complete":
                msg = await asyncio.wait_for(pws.receive(), 5)
                assert msg.type == aiohttp.WSMsgType.TEXT
                up = json.loads(msg.data)
                assert up["update_type"] == "order"  # default update_types: order only
                seen.setdefault(up["order_id"], []).append(up)
            await pws.close()
            assert [u["status"] for u in seen[resting]][0] == "put order req received"
            assert seen[resting][-1]["status"] == "cancelled"
            last = seen[filled][-1]
            assert last["filled_quantity"] == 20 and last["average_price"] > 0
            assert last["tag"] == "p" and last["instrument_key"] == KEY
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:  # single-use code
                await c.s.ws_connect(uri, ssl=c.ssl)
            assert err.value.status == 403

    run(go())


# ---------------------------------------------------------------- official SDK


def test_official_sdk_places_cancels_and_lists(make_sim: Any) -> None:
    upstox_client = pytest.importorskip("upstox_client")
    sim = make_sim()
    conf = upstox_client.Configuration()
    conf.host = sim.base_url
    conf.order_host = sim.base_url  # place/modify/cancel go to api-hft.upstox.com
    conf.ssl_ca_cert = str(sim.ca_path)
    conf.access_token = sim.token
    api = upstox_client.ApiClient(conf)
    v3 = upstox_client.OrderApiV3(api)
    body = upstox_client.PlaceOrderV3Request(
        quantity=20, product="I", validity="DAY", price=20000.0, tag="sdk",
        instrument_token=KEY, order_type="LIMIT", transaction_type="BUY",
        disclosed_quantity=0, trigger_price=0.0, is_amo=False, slice=False,
    )  # fmt: skip
    placed = v3.place_order(body)
    assert placed.status == "success" and len(placed.data.order_ids) == 1
    assert placed.metadata.latency >= 1
    oid = placed.data.order_ids[0]
    v2 = upstox_client.OrderApi(api)
    book = v2.get_order_book(api_version="2.0")
    assert [(o.order_id, o.tag, o.quantity) for o in book.data] == [(oid, "sdk", 20)]
    assert book.data[0].status == "after market order req received"  # before the open
    cancelled = v3.cancel_order(oid)
    assert cancelled.status == "success" and cancelled.data.order_id == oid
    assert v2.get_order_status(order_id=oid).data.status == "cancelled"
    assert [h.status for h in v2.get_order_details(api_version="2.0", tag="sdk").data][-1] == (
        "cancelled"
    )
    funds = upstox_client.UserApi(api).get_user_fund_margin(api_version="2.0", segment="SEC")
    assert funds.data["equity"].available_margin == 10_000_000
    assert upstox_client.PortfolioApi(api).get_positions(api_version="2.0").data == []
