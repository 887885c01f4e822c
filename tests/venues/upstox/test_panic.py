"""The kill switch against a MockTransport Upstox and a temporary SQLite store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mixbot.store.repository import Store
from mixbot.venues.panic import add_parsers
from mixbot.venues.upstox.execution.orders import OrderApi
from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.panic import panic


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"status": "error", "errors": [{"error_code": code, "message": message}]}


class Broker:
    """Order book + positions; cancels and MARKET exits change them like Upstox would."""

    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = [
            {
                "order_id": "1",
                "status": "open",
                "filled_quantity": 0,
                "quantity": 10,
                "tag": "b-e-1",
                "trading_symbol": "SBIN",
                "transaction_type": "BUY",
                "instrument_token": "NSE_EQ|INE062A01020",
            },
            {
                "order_id": "2",
                "status": "trigger pending",
                "filled_quantity": 0,
                "quantity": 5,
                "tag": "b-sl-1",
                "trading_symbol": "INFY",
                "transaction_type": "SELL",
                "instrument_token": "NSE_EQ|INE009A01021",
            },
            {
                "order_id": "3",
                "status": "complete",
                "filled_quantity": 5,
                "quantity": 5,
                "tag": "b-e-0",
                "trading_symbol": "INFY",
                "transaction_type": "BUY",
                "instrument_token": "NSE_EQ|INE009A01021",
            },
            {
                "order_id": "4",
                "status": "open",
                "filled_quantity": 2,
                "quantity": 4,
                "tag": None,
                "trading_symbol": "TCS",
                "transaction_type": "SELL",
                "instrument_token": "NSE_EQ|INE467B01029",
            },
        ]
        self.positions: list[dict[str, Any]] = [
            {
                "instrument_token": "NSE_EQ|INE009A01021",
                "trading_symbol": "INFY",
                "quantity": 5,
                "product": "I",
                "exchange": "NSE",
            },
            {
                "instrument_token": "NSE_EQ|INE467B01029",
                "trading_symbol": "TCS",
                "quantity": -2,
                "product": "D",
                "exchange": "NSE",
            },
            {
                "instrument_token": "NSE_EQ|INE062A01020",
                "trading_symbol": "SBIN",
                "quantity": 0,
                "product": "I",
                "exchange": "NSE",
            },
        ]
        self.placed: list[dict[str, Any]] = []
        self.cancel_fail: set[str] = set()
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/v2/order/retrieve-all":
            return httpx.Response(200, json={"status": "success", "data": self.orders})
        if path == "/v2/portfolio/short-term-positions":
            return httpx.Response(200, json={"status": "success", "data": self.positions})
        if path == "/v3/order/cancel":
            oid = request.url.params["order_id"]
            if oid in self.cancel_fail:
                return httpx.Response(400, json=envelope("UDAPI100040", "cannot cancel"))
            for o in self.orders:
                if o["order_id"] == oid:
                    o["status"] = "cancelled"
            return httpx.Response(200, json={"status": "success", "data": {"order_id": oid}})
        if path == "/v2/order/details":
            oid = request.url.params["order_id"]
            o = next(o for o in self.orders if o["order_id"] == oid)
            return httpx.Response(200, json={"status": "success", "data": o})
        if path == "/v3/order/place":
            body = json.loads(request.content)
            self.placed.append(body)
            oid = f"X{len(self.placed)}"
            self.orders.append(
                {
                    "order_id": oid,
                    "status": "complete",
                    "tag": body["tag"],
                    "filled_quantity": body["quantity"],
                    "quantity": body["quantity"],
                }
            )
            sign = 1 if body["transaction_type"] == "BUY" else -1
            for p in self.positions:
                if p["instrument_token"] == body["instrument_token"]:
                    p["quantity"] += sign * body["quantity"]
            return httpx.Response(200, json={"status": "success", "data": {"order_ids": [oid]}})
        return httpx.Response(404, json=envelope("X", path))


def make_api(broker: Broker) -> OrderApi:
    client = UpstoxClient(
        token="tok",
        base_url="https://api.test",
        transport=httpx.MockTransport(broker),
        rate_limiter=False,
        sleep=lambda s: None,
    )
    return OrderApi(client, sleep=lambda s: None)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path}/s.sqlite", "b", "live")
    s.register("hash", "cfg.json")
    return s


def test_panic_cancels_exits_and_halts(store: Store) -> None:
    broker = Broker()
    printed: list[str] = []
    report = panic(
        make_api(broker),
        store,
        reason="test",
        on_step=lambda s: printed.append(s.render()),
        clock=lambda: 1_700_000_000,
    )
    # open orders cancelled (1 open, 2 trigger pending, 4 partly filled); 3 was complete
    cancels = [
        r.url.params["order_id"] for r in broker.requests if r.url.path == "/v3/order/cancel"
    ]
    assert cancels == ["1", "2", "4"]
    assert report.cancelled == ["1", "2", "4"]
    # exits: INFY long 5 -> SELL 5 (I), TCS short 2 -> BUY 2 (D); flat SBIN untouched
    assert [
        (
            b["instrument_token"],
            b["transaction_type"],
            b["quantity"],
            b["product"],
            b["order_type"],
            b["price"],
            b["slice"],
        )
        for b in broker.placed
    ] == [
        ("NSE_EQ|INE009A01021", "SELL", 5, "I", "MARKET", 0.0, True),
        ("NSE_EQ|INE467B01029", "BUY", 2, "D", "MARKET", 0.0, True),
    ]
    assert all(b["tag"].startswith("pn") and len(b["tag"]) <= 20 for b in broker.placed)
    # cancels happen before any exit is sent
    paths = [r.url.path for r in broker.requests]
    assert max(i for i, p in enumerate(paths) if p == "/v3/order/cancel") < paths.index(
        "/v3/order/place"
    )
    assert report.ok and report.halted and report.leftovers == []
    # the store: halted, audit trail, write-ahead exit intents
    assert store.bot_row()["status"] == "halted"
    events = store.events()
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "panic" and kinds[-1] == "halt"
    actions = [e["data"]["action"] for e in events if e["kind"] == "panic"]
    assert actions == [
        "start",
        "halt",
        "read_orders",
        "cancel",
        "cancel",
        "cancel",
        "read_positions",
        "exit",
        "exit",
        "verify",
    ]
    assert events[0]["data"]["reason"] == "test"
    exits = [o for o in store.orders() if o["role"] == "panic_exit"]
    assert [
        (o["symbol"], o["side"], o["qty_requested"], o["status"], o["broker_order_id"])
        for o in exits
    ] == [("INFY", "SELL", 5.0, "Submitted", "X1"), ("TCS", "BUY", 2.0, "Submitted", "X2")]
    assert any("cancel 1" in line for line in printed)


def test_panic_keeps_going_after_a_failed_cancel(store: Store) -> None:
    broker = Broker()
    broker.cancel_fail = {"2"}
    report = panic(make_api(broker), store, reason="x")
    assert report.cancelled == ["1", "4"]
    assert [s.target for s in report.failures] == ["2", "broker"]  # cancel, then verify
    assert not report.ok
    assert any("order 2" in x for x in report.leftovers)
    assert len(broker.placed) == 2  # exits still sent
    assert store.bot_row()["status"] == "halted"
    failed = [e for e in store.events("panic") if e["data"].get("ok") is False]
    assert [e["data"]["target"] for e in failed] == ["2", "broker"]


def test_panic_without_store_acts_on_the_broker_only() -> None:
    broker = Broker()
    report = panic(make_api(broker), None, reason="no db")
    assert not report.halted and report.ok
    assert len(broker.placed) == 2


def test_panic_survives_a_broken_store(store: Store) -> None:
    broker = Broker()
    store.engine.dispose()

    class Broken:
        def __getattr__(self, name: str) -> Any:
            def fail(*a: Any, **k: Any) -> None:
                raise RuntimeError("database is locked")

            return fail

    report = panic(make_api(broker), Broken(), reason="db down")
    assert len(broker.placed) == 2 and report.cancelled == ["1", "2", "4"]
    assert not report.halted and not report.ok
    assert any(s.action == "halt" and not s.ok for s in report.steps)


def test_panic_reports_unreadable_broker(store: Store) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json=envelope("UDAPI100050", "Invalid token"))

    client = UpstoxClient(
        token="tok",
        base_url="https://api.test",
        transport=httpx.MockTransport(down),
        rate_limiter=False,
    )
    report = panic(OrderApi(client), store, reason="dead token")
    assert report.halted  # the bot is halted even when the broker cannot be reached
    assert {s.action for s in report.failures} >= {"read_orders", "read_positions"}
    assert store.bot_row()["status"] == "halted"


def test_cli_parser_registers_panic() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_parsers(sub)
    args = parser.parse_args(["panic", "bots/x.json", "--yes"])
    assert args.config == "bots/x.json" and args.yes and callable(args.func)
    args = parser.parse_args(["panic", "bots/x.json"])
    assert not args.yes and args.reason


def test_panic_against_the_simulator(
    data_dir: Path, tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        from mixbot.simulators.upstox import Simulator
        from mixbot.simulators.upstox.exchange import Exchange  # noqa: F401
    except ImportError:
        pytest.skip("simulator order engine (sim.exchange) not available")
    sim = Simulator(
        files=[data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt"],
        speed=0,
        start="2019-01-03",
        end="2019-01-04",
        tls_dir=tmp_path / "tls",
    ).start()
    try:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        client = UpstoxClient(token=sim.token, rate_limiter=False)
        api = OrderApi(client, recheck_delay=0.05)
        for i in range(2):
            api.place(
                instrument_key="NSE_FO|35005",
                side="BUY",
                qty=20,
                order_type="LIMIT",
                product="I",
                price=1000.0,
                tag=f"open{i}",
            )
        report = panic(api, store, reason="sim")
        assert len(report.cancelled) == 2 and report.ok
        assert {o["status"] for o in sim.exchange.orders()} == {"cancelled"}
        assert store.bot_row()["status"] == "halted"
        client.close()
    finally:
        sim.stop()


def test_service_panic_of_a_live_bot_runs_the_venue_kill_switch(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixbot.service.bots import BotService

    try:
        from mixbot.simulators.upstox import Simulator
    except ImportError:
        pytest.skip("simulator not available")
    sim = Simulator(
        files=[data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt"],
        speed=0,
        start="2019-01-03",
        end="2019-01-04",
        tls_dir=tmp_path / "tls",
    ).start()
    url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    config = Path(__file__).resolve().parents[3] / "config/trading/live/upstox_sim_orders.json"
    try:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        client = UpstoxClient(token=sim.token, rate_limiter=False)
        OrderApi(client, recheck_delay=0.05).place(
            instrument_key="NSE_FO|35005",
            side="BUY",
            qty=20,
            order_type="LIMIT",
            product="I",
            price=1000.0,
            tag="open0",
        )
        client.close()
        result = BotService(database_url=url).panic(config, reason="from the service")
        assert (result.id, result.command, result.taken, result.result) == (-1, "panic", True, "ok")
        assert {o["status"] for o in sim.exchange.orders()} == {"cancelled"}
        store = Store(url, "upstox-sim-orders", "live")
        assert store.bot_row()["status"] == "halted"
        assert store.events("panic")[0]["data"]["reason"] == "from the service"
        store.close()
    finally:
        sim.stop()
