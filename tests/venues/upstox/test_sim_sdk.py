"""The official Upstox SDK (upstox-python-sdk), pointed at the simulator, parses its answers."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest

upstox_client = pytest.importorskip("upstox_client")
from upstox_client.rest import ApiException  # noqa: E402

from mixbot.simulators.upstox import Simulator  # noqa: E402

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
KEY = "NSE_FO|35005"


@pytest.fixture(scope="module")
def sim(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    s = Simulator(
        files=[data_dir / FILE], start="2019-01-03", end="2019-01-03",
        tls_dir=tmp_path_factory.mktemp("tls"),
    )  # fmt: skip
    s.start()
    _advance(s, 300)  # play some ticks so that today has candles and quotes
    yield s
    s.stop()


def _advance(sim: Simulator, n: int) -> None:
    async def go() -> None:
        ctx = ssl.create_default_context(cafile=str(sim.ca_path))
        async with aiohttp.ClientSession() as s:
            url = sim.base_url + "/v3/feed/market-data-feed/authorize"
            async with s.get(url, headers={"Authorization": f"Bearer {sim.token}"}, ssl=ctx) as r:
                uri = (await r.json())["data"]["authorized_redirect_uri"]
            async with s.ws_connect(uri, ssl=ctx) as ws:
                req = {
                    "guid": "a",
                    "method": "sub",
                    "data": {"mode": "ltpc", "instrumentKeys": [KEY]},
                }
                await ws.send_bytes(json.dumps(req).encode())
                for _ in range(n):
                    await ws.receive()

    asyncio.run(go())


def _client(sim: Simulator, token: str | None = None) -> Any:
    conf = upstox_client.Configuration()
    conf.host = sim.base_url
    conf.ssl_ca_cert = str(sim.ca_path)
    conf.access_token = token or sim.token
    return upstox_client.ApiClient(conf)


def test_sdk_historical_and_intraday_candles(sim: Simulator) -> None:
    api = upstox_client.HistoryV3Api(_client(sim))
    res = api.get_historical_candle_data1(KEY, "minutes", "1", "2019-01-02", "2019-01-02")
    assert res.status == "success"
    candles = res.data.candles
    assert candles[-1][0] == "2019-01-02T09:15:00+05:30" and len(candles[-1]) == 7
    days = api.get_historical_candle_data(KEY, "days", "1", "2019-01-02")
    assert [c[0][:10] for c in days.data.candles] == ["2019-01-02", "2019-01-01"]
    intra = api.get_intra_day_candle_data(KEY, "minutes", "1")
    assert intra.status == "success" and intra.data.candles
    assert all(c[0].startswith("2019-01-03T") for c in intra.data.candles)


def test_sdk_market_quotes(sim: Simulator) -> None:
    client = _client(sim)
    full = upstox_client.MarketQuoteApi(client).get_full_market_quote(KEY, "2.0")
    q = full.data["NSE_FO:BANKNIFTY"]
    assert q.instrument_token == KEY and q.last_price > 0 and q.volume > 0
    assert q.ohlc.high >= q.ohlc.low and len(q.depth.buy) == 5
    ltp = upstox_client.MarketQuoteV3Api(client).get_ltp(instrument_key=KEY)
    assert ltp.data["NSE_FO:BANKNIFTY"].last_price == q.last_price
    ltp2 = upstox_client.MarketQuoteApi(client).ltp(KEY, "2.0")
    assert ltp2.data["NSE_FO:BANKNIFTY"].instrument_token == KEY


def test_sdk_market_status_and_feed_authorize(sim: Simulator) -> None:
    client = _client(sim)
    st = upstox_client.MarketHolidaysAndTimingsApi(client).get_market_status("NSE")
    assert st.data.status == "NORMAL_OPEN"
    auth = upstox_client.WebsocketApi(client).get_market_data_feed_authorize_v3()
    assert auth.data.authorized_redirect_uri.startswith("wss://127.0.0.1:")


def test_sdk_sees_401_and_429(sim: Simulator) -> None:
    with pytest.raises(ApiException) as err:
        upstox_client.MarketQuoteV3Api(_client(sim, "wrong")).get_ltp(instrument_key=KEY)
    assert err.value.status == 401
    assert json.loads(err.value.body)["errors"][0]["errorCode"] == "UDAPI100050"
    sim.faults.rate_limit(1)
    with pytest.raises(ApiException) as err:
        upstox_client.MarketQuoteV3Api(_client(sim)).get_ltp(instrument_key=KEY)
    assert err.value.status == 429
