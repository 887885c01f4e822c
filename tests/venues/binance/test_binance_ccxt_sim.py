"""ccxt itself (the official client, sync and ccxt.pro) against the Binance simulator:
markets, OHLCV, orders placed / listed / cancelled, signatures, 429/418 with Retry-After,
the used-weight header, execution reports over the WebSocket API user-data stream."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import pytest

from mixbot.venues.binance.client import WeightGuard, make_pro, make_sync
from mixbot.venues.binance.config import BinanceConfig


def _bc(sim: Any) -> BinanceConfig:
    return BinanceConfig.from_dict({"api_url": sim.api_url, "ws_url": sim.ws_url})


def test_ccxt_loads_spot_only_and_fetches_the_files_ohlcv(sim_factory: Any) -> None:
    sim = sim_factory()
    ex = make_sync(_bc(sim))
    markets = ex.load_markets()
    assert list(markets) == ["BTC/USDT"]  # no sapi / futures hosts were asked
    m = markets["BTC/USDT"]
    assert m["precision"]["amount"] == 1e-05 and m["limits"]["cost"]["min"] == 5.0
    rows = ex.fetch_ohlcv("BTC/USDT", "1m", limit=3)
    assert [r[0] for r in rows] == [1677715020000, 1677715080000, 1677715140000]  # closed only
    k = sim.bars.index_at(1677715140000)
    assert rows[-1][1:5] == pytest.approx(list(sim.bars.ohlcv[k, :4]))
    hourly = ex.fetch_ohlcv("BTC/USDT", "1h", since=1677704400000, limit=2)
    assert [r[0] for r in hourly] == [1677704400000, 1677708000000]


def test_ccxt_places_lists_and_cancels_orders(sim_factory: Any) -> None:
    sim = sim_factory()
    ex = make_sync(_bc(sim), "sim-key", "sim-secret")
    ex.load_markets()
    o = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 20000, {"newClientOrderId": "b:1:entry"})
    assert o["status"] == "open" and o["clientOrderId"] == "b:1:entry"
    assert [x["clientOrderId"] for x in ex.fetch_open_orders("BTC/USDT")] == ["b:1:entry"]
    assert ex.cancel_order(o["id"], "BTC/USDT")["status"] == "canceled"
    assert ex.fetch_open_orders("BTC/USDT") == []
    m = ex.create_order("BTC/USDT", "market", "buy", 0.01)
    assert m["status"] == "closed" and m["filled"] == 0.01
    assert m["fee"] == {"currency": "BTC", "cost": pytest.approx(1e-05)}  # 0.1 % in base
    assert ex.fetch_balance()["free"]["BTC"] == pytest.approx(0.00999)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USDT", "market", "buy", 100.0)


def test_a_wrong_secret_is_refused(sim_factory: Any) -> None:
    sim = sim_factory()
    ex = make_sync(_bc(sim), "sim-key", "not-the-secret")
    ex.load_markets()
    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_balance()
    assert sim.guard.refused_signatures == 1
    assert make_sync(_bc(sim), "sim-key", "sim-secret").fetch_balance()["free"]["USDT"] == 100000


@pytest.mark.parametrize("status", [429, 418])
def test_429_and_418_wait_retry_after_then_succeed(sim_factory: Any, status: int) -> None:
    sim = sim_factory()
    ex = make_sync(_bc(sim))
    slept: list[float] = []
    guard = WeightGuard(4800, sleep=slept.append)
    sim.inject_http(status, 1, retry_after=7, path="/klines")
    ex.load_markets()
    rows = guard.call(ex, lambda: ex.fetch_ohlcv("BTC/USDT", "1m", limit=2), weight=2)
    assert len(rows) == 2
    assert guard.backoffs == [(status, 7.0)] and slept == [7.0]
    sim.inject_http(status, 2, retry_after=3, path="/klines")
    with pytest.raises((ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
        guard.call(ex, lambda: ex.fetch_ohlcv("BTC/USDT", "1m", limit=2), weight=2)


def test_the_used_weight_header_is_read_back_and_the_budget_kept(sim_factory: Any) -> None:
    sim = sim_factory()
    ex = make_sync(_bc(sim))
    now = [120.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    sim.guard.clock = lambda: now[0]
    guard = WeightGuard(30, sleep=sleep, clock=lambda: now[0])
    guard.call(ex, ex.load_markets, weight=20)
    assert guard.used == 20  # exchangeInfo weighs 20 (X-MBX-USED-WEIGHT-1M)
    for _ in range(5):
        guard.call(ex, lambda: ex.fetch_ohlcv("BTC/USDT", "1m", limit=1), weight=2)
    assert guard.used == 30 and slept == []  # 20 + 5 x 2: the budget, not over it
    guard.call(ex, lambda: ex.fetch_ohlcv("BTC/USDT", "1m", limit=1), weight=2)
    assert slept == [pytest.approx(60.05)]  # waited for the next minute
    assert guard.used == 2


def test_ccxt_pro_streams_klines_and_execution_reports(sim_factory: Any) -> None:
    sim = sim_factory()

    async def main() -> tuple[Any, Any]:
        ex = make_pro(_bc(sim), "sim-key", "sim-secret")
        try:
            await ex.load_markets()
            orders = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))
            candles = asyncio.ensure_future(ex.watch_ohlcv("BTC/USDT", "1m"))
            loop = asyncio.get_running_loop()
            ok = await loop.run_in_executor(
                None, lambda: sim.wait_for(lambda: sim.streams.user_subscribes
                                           and sim.streams.subscribes, 30)
            )  # fmt: skip
            assert ok
            await loop.run_in_executor(None, sim.step, 1)
            got = await candles
            await ex.create_order("BTC/USDT", "market", "buy", 0.01, None,
                                  {"newClientOrderId": "t:1:entry"})  # fmt: skip
            return got, await orders
        finally:
            await ex.close()

    candles, orders = asyncio.run(main())
    assert candles[0][0] == 1677715200000
    assert orders[0]["clientOrderId"] == "t:1:entry"


def test_binance_sim_command_prints_the_exports_and_ends(btc_file: Any) -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "mixbot", "binance-sim", "--port", "0", "--data", str(btc_file),
         "--start", "2023-03-21T23:50", "--speed", "100000", "--no-wait", "--exit-at-end"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    exports = [ln for ln in r.stdout.splitlines() if ln.startswith("export ")]
    assert [ln.split("=")[0] for ln in exports] == [
        "export MIXBOT_BINANCE_API", "export MIXBOT_BINANCE_WS",
        "export BINANCE_API_KEY", "export BINANCE_API_SECRET",
    ]  # fmt: skip
    bad = subprocess.run([sys.executable, "-m", "mixbot", "binance-sim", "--data", "/nope.csv"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "error" in bad.stderr
