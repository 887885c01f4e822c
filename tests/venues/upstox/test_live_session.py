"""Live mode end to end: `mixbot run` with broker ``upstox`` on the Upstox feed against the
local simulator (real BANKNIFTY 1-minute data): every order goes through the Upstox order API,
and what the bot stored matches what the simulated exchange did. Plus the stuck-entry rule."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import backtrader as bt
import pytest

from mixbot.config.model import build
from mixbot.config.validate import validate_file
from mixbot.engine.runner import Bot
from mixbot.paths import REPO_ROOT

sim_mod = pytest.importorskip("mixbot.simulators.upstox")

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"


def _cfg(doc: dict, path: Path):  # type: ignore[no-untyped-def]
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=json.dumps(doc), env={"UPSTOX_ACCESS_TOKEN": "sim-token"})
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def test_live_session_orders_match_the_exchange(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    doc = json.loads((REPO_ROOT / "config/trading/live/upstox_sim_banknifty.json").read_text())
    doc["bot_id"] = "live-sim"
    doc["broker"] = {
        "type": "upstox",
        "access_token": "${UPSTOX_ACCESS_TOKEN}",
        "algo_name": "t-algo",
    }
    doc["data"]["to"] = "2019-01-02"
    sim = sim_mod.Simulator(
        files=[data_dir / FILE],
        port=0,
        speed=1200,
        start="2019-01-01",
        end="2019-01-02",
        tls_dir=tmp_path / "tls",
        cash=2_000_000.0,
    )
    sim.start()
    try:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite'}")
        bot = Bot(_cfg(doc, tmp_path / "live.json"), fresh=True)
        assert bot.mode == "live"
        result = bot.run()
        sim_orders = sim.exchange.orders()
        sim_fills = sim.exchange.fills()
    finally:
        sim.stop()
    status = bot.get_status()
    assert status["status"] == "finished"
    assert len(result.trades) >= 1

    mine = [o for o in sim_orders if str(o["tag"] or "").startswith("live-sim:")]
    tags = [o["tag"] for o in mine]
    assert len(tags) == len(set(tags)), "duplicate tags at the exchange"
    store_orders = bot.store.orders()
    assert len(store_orders) == len(mine)
    assert {o["tag"] for o in store_orders} == set(tags)
    # entries went as LIMIT orders, exits as MARKET, protective stops as SL-M
    by_tag = {o["tag"]: o for o in mine}
    assert all(by_tag[t]["order_type"] == "LIMIT" for t in tags if t.endswith(":entry"))
    assert all(by_tag[t]["order_type"] == "SL-M" for t in tags if t.endswith(":sl"))
    assert all(by_tag[t]["order_type"] == "MARKET" for t in tags if t.endswith(":exit"))

    # every stored fill is a fill of the exchange (same order, side, quantity, price)
    fills_by_order: dict[str, list[Any]] = {}
    for f in sim_fills:
        fills_by_order.setdefault(f.order_id, []).append(f)
    store_fills = bot.store.fills()
    assert store_fills
    for sf in store_fills:
        o = by_tag[sf["order_tag"]]
        assert o["transaction_type"] == sf["side"]
        got = fills_by_order[o["order_id"]]
        qty = sum(f.qty for f in got)
        avg = sum(f.qty * f.price for f in got) / qty
        assert sf["qty"] == qty
        assert sf["price"] == pytest.approx(avg, abs=1e-6)
    # ...and every exchange fill of ours is in the store
    filled_tags = {o["tag"] for o in mine if o["filled_quantity"]}
    assert filled_tags == {sf["order_tag"] for sf in store_fills}
    # the bot's trades are the exchange's round trips
    for t in result.trades:
        assert t.size > 0
    assert all(o["status"] in ("complete", "cancelled", "rejected") for o in mine)


class _Line(list):  # type: ignore[type-arg]
    def datetime(self, ago: int = 0) -> dt.datetime:
        return bt.num2date(self[ago])


class _Data:
    """A stand-in for the feed: a name, an LTP far below the market, a close."""

    def __init__(self, price: float) -> None:
        self._name = "BANKNIFTY"
        self.last_price = price
        self.close = [price]
        self.datetime = _Line([bt.date2num(dt.datetime(2019, 1, 1, 4, 0))])
        self.p = SimpleNamespace(sessionend=dt.time(23, 59, 59))
        self.date2num = bt.date2num

    def __len__(self) -> int:
        return 1


def test_stuck_entry_is_cancelled_after_entry_timeout(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixbot.venues.upstox.execution.broker import UpstoxBroker
    from mixbot.venues.upstox.execution.orders import OrderApi
    from mixbot.venues.upstox.http.client import UpstoxClient

    sim = sim_mod.Simulator(
        files=[data_dir / FILE], port=0, speed=60, start="2019-01-01", end="2019-01-01",
        tls_dir=tmp_path / "tls", wait_for_client=False,
    )  # fmt: skip
    sim.start()
    try:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        client = UpstoxClient()
        now = [1000.0]
        key = sim.instruments[0].key
        try:
            broker = UpstoxBroker(
                order_api=OrderApi(client),
                instrument_key=key,
                entry_timeout_seconds=120,
                poll_interval=0,
                stream=False,
                clock=lambda data: now[0],
            )
            broker.start()
            data = _Data(10_000.0)  # BANKNIFTY traded ~27000: a BUY LIMIT at ~10005 never fills
            order = broker.buy(
                SimpleNamespace(), data, size=20, exectype=bt.Order.Market, tag="t:1:entry"
            )
            assert order.status == order.Submitted
            assert [o["order_type"] for o in sim.exchange.orders(tag="t:1:entry")] == ["LIMIT"]
            now[0] += 60
            broker.next()
            assert (
                order.alive()
                and not sim.exchange.orders(tag="t:1:entry")[0]["status"] == "cancelled"
            )
            now[0] += 61  # 121 s > entry_timeout_seconds
            deadline = time.monotonic() + 60  # hang guard only
            while order.alive() and time.monotonic() < deadline:
                broker.next()
                time.sleep(0.05)
            assert order.status == order.Canceled
            assert sim.exchange.orders(tag="t:1:entry")[0]["status"] == "cancelled"
            assert sim.exchange.count_orders(tag="t:1:entry") == 1
            notes = []
            while (n := broker.get_notification()) is not None:
                notes.append(n.getstatusname())
            assert notes[0] == "Submitted" and notes[-1] == "Canceled"
            broker.stop()
        finally:
            client.close()
    finally:
        sim.stop()
