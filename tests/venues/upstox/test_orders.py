"""OrderApi against httpx.MockTransport responders with Upstox's documented shapes, then
(when the simulator's exchange exists) against the simulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mixbot.venues.upstox.execution.orders import (
    BT_FINAL,
    UPSTOX_TO_BT,
    OrderApi,
    OrderStateUnknownError,
    StuckAction,
    StuckOrderPolicy,
    bt_status,
    entry_limit_price,
    exit_side,
    order_base,
    round_to_tick,
)
from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.http.errors import (
    RateLimitedError,
    TokenMissingError,
    UpstoxError,
    UpstoxUnavailableError,
)
from mixbot.venues.upstox.http.ratelimit import order_limiter

TOKEN = "live-token-abc"
BASE = "https://api.test"


def envelope(code: str, message: str) -> dict[str, Any]:
    return {
        "status": "error",
        "errors": [{"error_code": code, "errorCode": code, "message": message}],
    }


class FakeUpstox:
    """A tiny Upstox order server: place/modify/cancel v3, reads v2, with faults."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.next_id = 250101000000001
        # faults, consumed in order, per route: callables returning a Response or raising
        self.place_faults: list[str] = []
        self.book_faults: list[str] = []
        self.history_faults: list[str] = []
        self.positions: list[dict[str, Any]] = []

    # helpers
    def calls(self, path: str, method: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.url.path == path and (method is None or r.method == method)
        ]

    def _new_order(self, body: dict[str, Any]) -> str:
        oid = str(self.next_id)
        self.next_id += 1
        self.orders[oid] = {
            "order_id": oid,
            "status": "open",
            "filled_quantity": 0,
            "quantity": body["quantity"],
            "tag": body.get("tag"),
            "instrument_token": body["instrument_token"],
            "transaction_type": body["transaction_type"],
            "order_type": body["order_type"],
            "product": body["product"],
            "price": body["price"],
            "trading_symbol": "SBIN",
        }
        return oid

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/v3/order/place":
            body = json.loads(request.content)
            fault = self.place_faults.pop(0) if self.place_faults else None
            if fault == "connect":
                raise httpx.ConnectError("refused", request=request)
            if fault == "timeout_before":  # lost on the way: Upstox never saw it
                raise httpx.ReadTimeout("timed out", request=request)
            if fault == "429":
                return httpx.Response(429, json=envelope("UDAPI10005", "Too Many Request Sent"))
            if fault == "400":
                return httpx.Response(400, json=envelope("UDAPI1026", "Instrument key invalid"))
            oid = self._new_order(body)
            if fault == "timeout_after":  # accepted, then the answer was dropped
                raise httpx.ReadTimeout("timed out", request=request)
            if fault == "500_after":
                return httpx.Response(500, json=envelope("UDAPI100500", "Something went wrong"))
            return httpx.Response(
                200,
                json={
                    "status": "success",
                    "data": {"order_ids": [oid]},
                    "metadata": {"latency": 12},
                },
            )
        if path == "/v3/order/modify":
            body = json.loads(request.content)
            self.orders[body["order_id"]]["price"] = body["price"]
            return httpx.Response(
                200,
                json={
                    "status": "success",
                    "data": {"order_id": body["order_id"]},
                    "metadata": {"latency": 7},
                },
            )
        if path == "/v3/order/cancel":
            oid = request.url.params["order_id"]
            o = self.orders.get(oid)
            if o is None or o["status"] in ("complete", "cancelled", "rejected"):
                return httpx.Response(
                    400, json=envelope("UDAPI100040", "Order is not open for cancellation")
                )
            o["status"] = "cancelled"
            return httpx.Response(
                200,
                json={"status": "success", "data": {"order_id": oid}, "metadata": {"latency": 5}},
            )
        if path == "/v2/order/retrieve-all":
            fault = self.book_faults.pop(0) if self.book_faults else None
            if fault == "500":
                return httpx.Response(503, json=envelope("UDAPI100500", "down"))
            return httpx.Response(
                200, json={"status": "success", "data": list(self.orders.values())}
            )
        if path == "/v2/order/history":
            fault = self.history_faults.pop(0) if self.history_faults else None
            if fault == "400":
                return httpx.Response(400, json=envelope("UDAPI100010", "Order not found"))
            tag = request.url.params.get("tag")
            oid = request.url.params.get("order_id")
            rows = [
                {**o, "status": s}
                for o in self.orders.values()
                if (tag is None or o["tag"] == tag) and (oid is None or o["order_id"] == oid)
                for s in ("put order req received", "validation pending", o["status"])
            ]
            return httpx.Response(200, json={"status": "success", "data": rows})
        if path == "/v2/order/details":
            o = self.orders.get(request.url.params["order_id"])
            if o is None:
                return httpx.Response(400, json=envelope("UDAPI100010", "Order not found"))
            return httpx.Response(200, json={"status": "success", "data": o})
        if path == "/v2/portfolio/short-term-positions":
            return httpx.Response(200, json={"status": "success", "data": self.positions})
        if path in (
            "/v2/order/trades/get-trades-for-day",
            "/v2/portfolio/long-term-holdings",
        ):
            return httpx.Response(200, json={"status": "success", "data": []})
        if path == "/v2/user/get-funds-and-margin":
            return httpx.Response(
                200, json={"status": "success", "data": {"equity": {"available_margin": 1e5}}}
            )
        return httpx.Response(404, json=envelope("UDAPI100060", f"no route {path}"))


def make_api(
    fake: FakeUpstox,
    sleeps: list[float] | None = None,
    base: str = BASE,
    **kw: Any,
) -> OrderApi:
    sleep: Callable[[float], None] = sleeps.append if sleeps is not None else (lambda s: None)
    client = UpstoxClient(
        token=TOKEN,
        base_url=base,
        transport=httpx.MockTransport(fake),
        rate_limiter=False,
        sleep=sleep,
    )
    return OrderApi(client, sleep=sleep, recheck_delay=0.5, **kw)


ORDER: dict[str, Any] = dict(
    instrument_key="NSE_EQ|INE062A01020",
    side="BUY",
    qty=10,
    order_type="LIMIT",
    product="I",
    price=571.35,
    tag="b0001-e-42",
)


# ----------------------------------------------------------------------------- request shape


def test_place_request_body_and_headers_exactly() -> None:
    fake = FakeUpstox()
    api = make_api(fake, algo_name="mixbot-ema")
    result = api.place(**ORDER)
    assert result.order_ids == ["250101000000001"]
    assert not result.recovered and result.attempts == 1 and result.latency_ms == 12
    (req,) = fake.requests
    assert req.method == "POST"
    assert str(req.url) == "https://api.test/v3/order/place"
    assert json.loads(req.content) == {
        "quantity": 10,
        "product": "I",
        "validity": "DAY",
        "price": 571.35,
        "tag": "b0001-e-42",
        "instrument_token": "NSE_EQ|INE062A01020",
        "order_type": "LIMIT",
        "transaction_type": "BUY",
        "disclosed_quantity": 0,
        "trigger_price": 0.0,
        "is_amo": False,
        "slice": False,
    }
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.headers["X-Algo-Name"] == "mixbot-ema"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["Content-Type"] == "application/json"
    assert "Api-Version" not in req.headers  # v3
    assert [s.action for s in result.steps] == ["send", "accepted"]


def test_place_market_with_protection_and_slice_no_algo_header() -> None:
    fake = FakeUpstox()
    api = make_api(fake)
    api.place(
        instrument_key="NSE_FO|43919",
        side="sell",
        qty=4000,
        order_type="market",
        product="D",
        tag="x1",
        slice=True,
        market_protection=-1,
    )
    (req,) = fake.requests
    body = json.loads(req.content)
    assert body["transaction_type"] == "SELL" and body["order_type"] == "MARKET"
    assert body["slice"] is True and body["market_protection"] == -1 and body["price"] == 0.0
    assert "X-Algo-Name" not in req.headers


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"price": 0}, "needs price"),
        ({"tag": ""}, "tag is required"),
        ({"qty": 0}, "whole number"),
        ({"qty": 2.5}, "whole number"),
        ({"side": "HOLD"}, "side"),
        ({"product": "MTF"}, "product"),
        ({"order_type": "SL-M", "price": 0}, "trigger_price"),
        ({"instrument_key": "SBIN"}, "instrument_key"),
        ({"market_protection": 5}, "applies to MARKET and SL-M"),
        ({"order_type": "MARKET", "price": 0, "market_protection": 30}, "0-25 percent"),
        ({"order_type": "MARKET", "price": 0, "market_protection": -2}, "0-25 percent"),
    ],
)
def test_place_validation_sends_nothing(change: dict[str, Any], problem: str) -> None:
    fake = FakeUpstox()
    api = make_api(fake)
    with pytest.raises(ValueError, match=problem):
        api.place(**{**ORDER, **change})
    assert fake.requests == []


def test_production_routing_uses_hft_host_for_orders_only(monkeypatch) -> None:
    monkeypatch.delenv("MIXBOT_UPSTOX_ORDER_API", raising=False)
    fake = FakeUpstox()
    api = make_api(fake, base="https://api.upstox.com")
    api.place(**ORDER)
    api.cancel("250101000000001")
    api.order_book()
    hosts = [(r.method, r.url.host, r.url.path) for r in fake.requests]
    assert hosts == [
        ("POST", "api-hft.upstox.com", "/v3/order/place"),
        ("DELETE", "api-hft.upstox.com", "/v3/order/cancel"),
        ("GET", "api.upstox.com", "/v2/order/retrieve-all"),
    ]
    assert fake.requests[2].headers["Api-Version"] == "2.0"
    assert order_base("https://127.0.0.1:8443") == "https://127.0.0.1:8443"  # simulator
    monkeypatch.setenv("MIXBOT_UPSTOX_ORDER_API", "https://orders.example/")
    assert order_base("https://api.upstox.com") == "https://orders.example"


def test_sandbox_routing_and_token(monkeypatch) -> None:
    monkeypatch.delenv("MIXBOT_UPSTOX_SANDBOX_API", raising=False)
    fake = FakeUpstox()
    api = make_api(fake, sandbox=True, sandbox_token="sbx-token", algo_name="a1")
    res = api.place(**ORDER)
    api.modify(res.order_id, order_type="LIMIT", price=570.0)
    api.cancel(res.order_id)
    api.order_book()
    api.positions()
    seen = [(r.url.host, r.url.path, r.headers["Authorization"]) for r in fake.requests]
    assert seen == [
        ("api-sandbox.upstox.com", "/v3/order/place", "Bearer sbx-token"),
        ("api-sandbox.upstox.com", "/v3/order/modify", "Bearer sbx-token"),
        ("api-sandbox.upstox.com", "/v3/order/cancel", "Bearer sbx-token"),
        ("api.test", "/v2/order/retrieve-all", f"Bearer {TOKEN}"),
        ("api.test", "/v2/portfolio/short-term-positions", f"Bearer {TOKEN}"),
    ]
    assert fake.requests[0].headers["X-Algo-Name"] == "a1"
    monkeypatch.setenv("MIXBOT_UPSTOX_SANDBOX_API", "https://sbx.local:9000/")
    api.place(**{**ORDER, "tag": "t2"})
    assert str(fake.requests[-1].url) == "https://sbx.local:9000/v3/order/place"
    assert "sbx-token" not in repr(api)


def test_sandbox_without_token_refuses(monkeypatch) -> None:
    monkeypatch.delenv("UPSTOX_SANDBOX_TOKEN", raising=False)
    fake = FakeUpstox()
    api = make_api(fake, sandbox=True)
    with pytest.raises(TokenMissingError, match="UPSTOX_SANDBOX_TOKEN"):
        api.place(**ORDER)
    assert fake.requests == []


def test_registered_algo_needs_a_name() -> None:
    with pytest.raises(ValueError, match="X-Algo-Name"):
        make_api(FakeUpstox(), registered_algo=True)


# ----------------------------------------------------------------------------- idempotency


def test_dropped_answer_after_accept_returns_the_one_order() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["timeout_after"]
    sleeps: list[float] = []
    events: list[Any] = []
    api = make_api(fake, sleeps, on_step=events.append)
    result = api.place(**ORDER)
    assert len(fake.orders) == 1  # exactly one order exists
    assert result.recovered and result.order_ids == list(fake.orders)
    assert result.attempts == 1
    assert len(fake.calls("/v3/order/place")) == 1  # never re-sent
    actions = [s.action for s in result.steps]
    assert actions == ["send", "ambiguous", "found", "recovered"]
    assert [e.action for e in events] == actions  # streamed to the audit sink too
    hist = fake.calls("/v2/order/history")
    assert hist[0].url.params["tag"] == ORDER["tag"]


def test_500_after_accept_is_recovered_not_resent() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["500_after"]
    result = make_api(fake).place(**ORDER)
    assert result.recovered and len(fake.orders) == 1
    assert len(fake.calls("/v3/order/place")) == 1


def test_provably_lost_place_is_sent_again_once() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["timeout_before"]
    sleeps: list[float] = []
    result = make_api(fake, sleeps).place(**ORDER)
    assert len(fake.orders) == 1 and not result.recovered
    assert result.attempts == 2
    assert len(fake.calls("/v3/order/place")) == 2
    actions = [s.action for s in result.steps]
    assert actions == [
        "send",
        "ambiguous",
        "not_found",
        "not_found",
        "not_found",
        "resend",
        "send",
        "accepted",
    ]
    assert sleeps == [0.5, 0.5]  # bounded re-check: 3 look-ups, 2 pauses


def test_lost_twice_gives_up_without_a_third_send() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["timeout_before", "timeout_before"]
    with pytest.raises(OrderStateUnknownError) as info:
        make_api(fake).place(**ORDER)
    assert len(fake.calls("/v3/order/place")) == 2
    assert fake.orders == {}
    assert info.value.tag == ORDER["tag"]
    assert info.value.steps[-1].action == "give_up"


def test_lookup_failure_never_resends() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["timeout_before"]
    fake.history_faults = ["400"] * 10  # history does not know the tag
    fake.book_faults = ["500"] * 50  # and the order book is down
    with pytest.raises(OrderStateUnknownError, match="cannot be read"):
        make_api(fake).place(**ORDER)
    assert len(fake.calls("/v3/order/place")) == 1


def test_history_400_falls_back_to_the_order_book() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["timeout_after"]
    fake.history_faults = ["400"]
    result = make_api(fake).place(**ORDER)
    assert result.recovered and len(fake.orders) == 1
    assert fake.calls("/v2/order/retrieve-all")


def test_429_backs_off_and_retries() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["429", "429"]
    sleeps: list[float] = []
    result = make_api(fake, sleeps).place(**ORDER)
    assert len(fake.orders) == 1 and result.attempts == 3
    assert len(sleeps) == 2 and all(s > 0 for s in sleeps)
    assert not fake.calls("/v2/order/history")  # a 429 is "not accepted": no look-up


def test_429_forever_gives_up() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["429"] * 10
    with pytest.raises(RateLimitedError):
        make_api(fake, max_rate_limited=2).place(**ORDER)
    assert len(fake.calls("/v3/order/place")) == 3
    assert fake.orders == {}


def test_400_is_never_retried() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["400"]
    with pytest.raises(UpstoxError) as info:
        make_api(fake).place(**ORDER)
    assert info.value.error_code == "UDAPI1026"
    assert len(fake.requests) == 1


def test_connect_failure_is_retried_without_lookup() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["connect"]
    result = make_api(fake).place(**ORDER)
    assert not result.recovered and result.attempts == 2
    assert [r.url.path for r in fake.requests] == ["/v3/order/place", "/v3/order/place"]


def test_connect_failure_forever_raises_unavailable() -> None:
    fake = FakeUpstox()
    fake.place_faults = ["connect"] * 10
    with pytest.raises(UpstoxUnavailableError):
        make_api(fake, max_unavailable=1).place(**ORDER)
    assert len(fake.requests) == 2


def test_order_calls_go_through_the_order_limiter() -> None:
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    fake = FakeUpstox()
    lim = order_limiter(clock=lambda: now[0], sleep=sleep)
    api = make_api(fake, limiter=lim)
    for i in range(11):
        api.place(**{**ORDER, "tag": f"t{i}"})
    assert now[0] == pytest.approx(1.0)  # the 11th order waited: 10/s cap


# ----------------------------------------------------------------------------- modify / cancel / reads


def test_modify_and_cancel() -> None:
    fake = FakeUpstox()
    api = make_api(fake, algo_name="a")
    oid = api.place(**ORDER).order_id
    ack = api.modify(oid, order_type="LIMIT", price=570.5)
    req = fake.requests[-1]
    assert req.method == "PUT" and req.headers["X-Algo-Name"] == "a"
    assert json.loads(req.content) == {
        "order_id": oid,
        "order_type": "LIMIT",
        "validity": "DAY",
        "price": 570.5,
        "trigger_price": 0.0,
        "disclosed_quantity": 0,
    }
    assert ack.order_id == oid and ack.latency_ms == 7
    ack = api.cancel(oid)
    assert fake.requests[-1].method == "DELETE"
    assert fake.requests[-1].url.params["order_id"] == oid
    assert not ack.already_final and fake.orders[oid]["status"] == "cancelled"
    again = api.cancel(oid)  # already cancelled: not an error
    assert again.already_final and again.final_status == "Canceled"


def test_cancel_unknown_order_raises() -> None:
    with pytest.raises(UpstoxError):
        make_api(FakeUpstox()).cancel("999")


def test_reads_unwrap_data() -> None:
    fake = FakeUpstox()
    api = make_api(fake)
    oid = api.place(**ORDER).order_id
    assert [o["order_id"] for o in api.order_book()] == [oid]
    assert api.order_details(oid)["status"] == "open"
    hist = api.order_history(order_id=oid)
    assert [h["status"] for h in hist][-1] == "open"
    assert fake.requests[-1].url.params["order_id"] == oid
    assert api.find_by_tag(ORDER["tag"])[0]["order_id"] == oid
    assert api.trades_for_day() == [] and api.holdings() == [] and api.positions() == []
    assert api.funds()["equity"]["available_margin"] == 1e5
    with pytest.raises(ValueError):
        api.order_history()


# ----------------------------------------------------------------------------- statuses & rules


def test_status_table() -> None:
    assert bt_status("put order req received") == "Submitted"
    assert bt_status("validation pending") == "Submitted"
    assert bt_status("open pending") == "Submitted"
    assert bt_status("trigger pending") == "Accepted"
    assert bt_status("open") == "Accepted"
    assert bt_status("open", filled_quantity=3) == "Partial"
    assert bt_status("modify pending", filled_quantity=1) == "Partial"
    assert bt_status("complete", filled_quantity=10) == "Completed"
    assert bt_status("cancelled", filled_quantity=4) == "Canceled"
    assert bt_status("rejected") == "Rejected"
    assert bt_status("After Market Order Req Received") == "Accepted"
    assert bt_status("something new") == "Submitted"  # unknown: live, never final
    assert set(UPSTOX_TO_BT.values()) <= {
        "Submitted",
        "Accepted",
        "Completed",
        "Canceled",
        "Rejected",
    }
    assert "Canceled" in BT_FINAL and "Accepted" not in BT_FINAL


def test_entry_limit_price_rounds_against_us() -> None:
    assert entry_limit_price(100.0, "BUY", 0.05, 0.05) == 100.05
    assert entry_limit_price(100.0, "SELL", 0.05, 0.05) == 99.95
    assert entry_limit_price(571.35, "BUY", 0.05, 0.05) == 571.65  # 571.6357 -> up
    assert entry_limit_price(571.35, "SELL", 0.05, 0.05) == 571.05  # 571.0643 -> down
    assert entry_limit_price(100.0, "BUY", 0.0, 0.05) == 100.0
    assert entry_limit_price(33.33, "buy", 0.1, 0.05) == 33.4
    with pytest.raises(ValueError):
        entry_limit_price(0, "BUY", 0.05, 0.05)
    with pytest.raises(ValueError):
        entry_limit_price(100, "HOLD", 0.05, 0.05)
    with pytest.raises(ValueError):
        entry_limit_price(100, "BUY", -1, 0.05)
    assert round_to_tick(10.02, 0.05, "nearest") == 10.0
    assert round_to_tick(10.03, 0.05, "nearest") == 10.05
    assert round_to_tick(0.1 + 0.2, 0.05, "up") == 0.3  # no float drift
    assert exit_side(5) == "SELL" and exit_side(-5) == "BUY"


def test_stuck_order_policy() -> None:
    policy = StuckOrderPolicy(exit_timeout_s=30, entry_timeout_s=120)
    d = policy.decide(role="exit", status="Accepted", age_s=31, qty=10, filled_qty=4)
    assert d.action is StuckAction.CANCEL_AND_REPLACE_MARKET and d.replace_qty == 6
    assert policy.decide(role="exit", status="Submitted", age_s=29).action is StuckAction.WAIT
    assert policy.decide(role="entry", status="Accepted", age_s=121).action is StuckAction.CANCEL
    assert policy.decide(role="entry", status="Partial", age_s=100).action is StuckAction.WAIT
    assert policy.decide(role="entry", status="Partial", age_s=130).action is StuckAction.CANCEL
    assert policy.decide(role="exit", status="Completed", age_s=999).action is StuckAction.WAIT
    with pytest.raises(ValueError):
        policy.decide(role="stop", status="Accepted", age_s=1)
    with pytest.raises(ValueError):
        StuckOrderPolicy(exit_timeout_s=0, entry_timeout_s=1)


# ----------------------------------------------------------------------------- simulator


def _sim_exchange_ready() -> bool:
    try:
        import mixbot.simulators.upstox.exchange  # noqa: F401
    except ImportError:
        return False
    return True


sim_only = pytest.mark.skipif(
    not _sim_exchange_ready(), reason="simulator order engine (sim.exchange) not available"
)

SIM_FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
SIM_KEY = "NSE_FO|35005"  # lot 20


@pytest.fixture
def sim_api(data_dir: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    if not _sim_exchange_ready():
        pytest.skip("simulator order engine (sim.exchange) not available")
    from mixbot.simulators.upstox import Simulator

    sim = Simulator(
        files=[data_dir / SIM_FILE],
        speed=0,
        start="2019-01-03",
        end="2019-01-04",
        tls_dir=tmp_path / "tls",
    ).start()
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("MIXBOT_UPSTOX_ORDER_API", raising=False)
    client = UpstoxClient(token=sim.token, rate_limiter=False)
    api = OrderApi(client, algo_name="mixbot-test", recheck_delay=0.05)
    yield sim, api
    client.close()
    sim.stop()


SIM_ORDER: dict[str, Any] = dict(
    instrument_key=SIM_KEY, side="BUY", qty=20, order_type="LIMIT", product="I", price=1000.0
)


@sim_only
def test_sim_place_and_read_back(sim_api: Any) -> None:
    sim, api = sim_api
    assert api.order_base == sim.base_url.rstrip("/")  # the simulator, not api-hft
    res = api.place(**SIM_ORDER, tag="sim-ok")
    assert not res.recovered and sim.exchange.count_orders(tag="sim-ok") == 1
    row = api.order_details(res.order_id)
    assert row["tag"] == "sim-ok" and row["order_type"] == "LIMIT"
    assert api.find_by_tag("sim-ok")[0]["order_id"] == res.order_id
    ack = api.cancel(res.order_id)
    assert not ack.already_final
    assert api.cancel(res.order_id).already_final  # cancelling twice is not an error


@sim_only
def test_sim_dropped_response_after_accept_is_recovered(sim_api: Any) -> None:
    sim, api = sim_api
    sim.faults.drop_order_responses(1)
    res = api.place(**SIM_ORDER, tag="sim-lost")
    assert res.recovered
    assert sim.exchange.count_orders(tag="sim-lost") == 1  # exactly one order
    assert res.order_ids == [o["order_id"] for o in sim.exchange.orders(tag="sim-lost")]


@sim_only
def test_sim_5xx_that_changed_nothing_is_resent_once(sim_api: Any) -> None:
    sim, api = sim_api
    sim.faults.order_errors(1, status=503)
    res = api.place(**SIM_ORDER, tag="sim-5xx")
    assert not res.recovered and res.attempts == 2
    assert sim.exchange.count_orders(tag="sim-5xx") == 1


@sim_only
def test_sim_429_backs_off(sim_api: Any) -> None:
    sim, api = sim_api
    api._sleep = lambda s: None  # no real backoff wait in the test
    sim.faults.rate_limit(2)
    res = api.place(**SIM_ORDER, tag="sim-429")
    assert res.attempts == 3 and sim.exchange.count_orders(tag="sim-429") == 1
