"""Tests of the local Upstox simulator (tick synthesis, websocket protocol, REST, faults)."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from mixbot.simulators.upstox import Simulator
from mixbot.simulators.upstox.instruments import ist_date, load_series
from mixbot.simulators.upstox.ticks import rebuild, synth_ticks

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
KEY = "NSE_FO|35005"


# ---------------------------------------------------------------- tick synthesis


def test_ticks_rebuild_every_real_bar_of_several_days(data_dir: Path) -> None:
    s = load_series(data_dir / FILE)
    assert s.inst.key == KEY and s.inst.lot_size == 20
    days = s.days()[:6]
    n_bars = 0
    for i in range(len(s.end_ms)):
        end = int(s.end_ms[i])
        if ist_date(end - 1) > days[-1]:
            break
        o, h, lo, c, v = (float(a[i]) for a in (s.o, s.h, s.lo, s.c, s.v))
        ticks = synth_ticks(o, h, lo, c, v, end - 60_000, end, n=8, lot=20, seed=f"{i}")
        bar = rebuild(ticks)
        assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (o, h, lo, c, round(v))
        times = [t.ltt for t in ticks]
        assert all(end - 60_000 < t < end for t in times)
        assert times == sorted(set(times))
        if round(v) >= len(ticks):
            assert all(t.qty >= 1 for t in ticks)
        if round(v) % 20 == 0 and round(v) // 20 >= len(ticks):
            assert all(t.qty % 20 == 0 for t in ticks)
        assert all(lo <= t.price <= h for t in ticks)
        n_bars += 1
    assert n_bars > 2000  # six full sessions of 375 bars


@pytest.mark.parametrize(
    "bar",
    [
        (100.0, 100.0, 100.0, 100.0, 0),
        (100.0, 100.0, 100.0, 100.0, 1),
        (100.0, 101.0, 99.0, 100.5, 3),
        (100.0, 100.0, 99.0, 99.0, 7),
        (100.0, 105.0, 100.0, 105.0, 123457),
    ],
)
def test_ticks_edge_cases(bar: tuple[float, float, float, float, int]) -> None:
    ticks = synth_ticks(*bar, 0, 60_000, n=8, seed="x")
    rb = rebuild(ticks)
    assert (rb.open, rb.high, rb.low, rb.close, rb.volume) == bar
    assert all(0 < t.ltt < 60_000 for t in ticks)


def test_ticks_reject_bad_bar() -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        synth_ticks(100.0, 99.0, 98.0, 100.0, 10, 0, 60_000)


# ---------------------------------------------------------------- simulator fixture


@pytest.fixture(scope="module")
def sim(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    s = Simulator(
        files=[data_dir / FILE],
        speed=0,
        start="2019-01-03",
        end="2019-01-04",
        tls_dir=tmp_path_factory.mktemp("tls"),
    )
    s.start()
    yield s
    s.stop()


def _ctx(sim: Simulator) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sim.ca_path))


def _auth(sim: Simulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.token}"}


async def _get(sim: Simulator, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token or sim.token}"}
    async with aiohttp.ClientSession() as s:
        async with s.get(sim.base_url + path, headers=headers, ssl=_ctx(sim)) as r:
            return r.status, await r.json()


async def _ws_uri(sim: Simulator, session: aiohttp.ClientSession) -> str:
    url = sim.base_url + "/v3/feed/market-data-feed/authorize"
    async with session.get(url, headers=_auth(sim), ssl=_ctx(sim)) as r:
        body = await r.json()
    assert body["data"]["authorized_redirect_uri"] == body["data"]["authorizedRedirectUri"]
    return str(body["data"]["authorized_redirect_uri"])


def _req(method: str, keys: list[str], mode: str | None = "full") -> bytes:
    data: dict[str, Any] = {"instrumentKeys": keys}
    if mode:
        data["mode"] = mode
    return json.dumps({"guid": "t", "method": method, "data": data}).encode()


def _decode(data: bytes) -> pb.FeedResponse:
    msg = pb.FeedResponse()
    msg.ParseFromString(data)
    return msg


def test_websocket_market_info_initial_then_live(sim: Simulator) -> None:
    async def go() -> list[pb.FeedResponse]:
        async with aiohttp.ClientSession() as s:
            uri = await _ws_uri(sim, s)
            assert uri.startswith("wss://127.0.0.1:")
            async with s.ws_connect(uri, ssl=_ctx(sim)) as ws:
                first = _decode((await ws.receive()).data)
                await ws.send_bytes(_req("sub", [KEY]))
                out = [first]
                while len(out) < 200:
                    msg = await ws.receive()
                    assert msg.type == aiohttp.WSMsgType.BINARY
                    out.append(_decode(msg.data))
                return out

    msgs = asyncio.run(go())
    assert msgs[0].type == pb.market_info
    assert set(msgs[0].marketInfo.segmentStatus) >= {"NSE_FO", "NSE_EQ"}
    assert msgs[1].type == pb.initial_feed and KEY in msgs[1].feeds
    lives = [m for m in msgs[2:] if m.type == pb.live_feed]
    assert len(lives) > 150
    infos = [m for m in msgs[2:] if m.type == pb.market_info]
    assert all(
        pb.MarketStatus.Name(v) == "NORMAL_OPEN" for v in infos[0].marketInfo.segmentStatus.values()
    )
    ltts = [m.feeds[KEY].fullFeed.marketFF.ltpc.ltt for m in lives]
    assert ltts == sorted(ltts)
    ff = lives[-1].feeds[KEY].fullFeed.marketFF
    intervals = [o.interval for o in ff.marketOHLC.ohlc]
    assert intervals[0] == "1d" and "I1" in intervals
    assert ff.vtt > 0 and len(ff.marketLevel.bidAskQuote) == 5
    # every completed minute seen in the stream equals the file's bar (prev I1 candle)
    s = load_series(Path(sim.series[0].source))
    by_start = {int(e) - 60_000: i for i, e in enumerate(s.end_ms)}
    checked = 0
    for m in lives:
        ohlc = [o for o in m.feeds[KEY].fullFeed.marketFF.marketOHLC.ohlc if o.interval == "I1"]
        if len(ohlc) == 2:
            prev = ohlc[0]
            i = by_start[prev.ts]
            assert (prev.open, prev.high, prev.low, prev.close, prev.vol) == (
                s.o[i],
                s.h[i],
                s.lo[i],
                s.c[i],
                round(s.v[i]),
            )
            checked += 1
    assert checked > 0


def test_websocket_limits_and_bad_requests(sim: Simulator) -> None:
    async def go() -> list[Any]:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(await _ws_uri(sim, s), ssl=_ctx(sim)) as ws:
                await ws.receive()  # market_info
                keys = [f"NSE_FO|{i}" for i in range(51)]
                await ws.send_bytes(_req("sub", keys, "full_d30"))
                over = await ws.receive()
                await ws.send_bytes(b"not json")
                bad = await ws.receive()
                await ws.send_bytes(_req("sub", [KEY], "bogus"))
                mode = await ws.receive()
                return [over, bad, mode]

    for msg in asyncio.run(go()):
        assert msg.type == aiohttp.WSMsgType.TEXT
        body = json.loads(msg.data)
        assert body["status"] == "error" and body["errors"][0]["errorCode"].startswith("UDAPI")
    assert "limit" in json.loads(asyncio.run(go())[0].data)["errors"][0]["message"]


def test_feed_code_is_single_use(sim: Simulator) -> None:
    async def go() -> int:
        async with aiohttp.ClientSession() as s:
            uri = await _ws_uri(sim, s)
            async with s.ws_connect(uri, ssl=_ctx(sim)) as ws:
                await ws.receive()
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await s.ws_connect(uri, ssl=_ctx(sim))
            return err.value.status

    assert asyncio.run(go()) == 403


def test_rest_invalid_token_envelope(sim: Simulator) -> None:
    status, body = asyncio.run(_get(sim, "/v2/market-quote/ltp?instrument_key=" + KEY, "bad"))
    assert status == 401
    err = body["errors"][0]
    assert body["status"] == "error"
    assert err["errorCode"] == err["error_code"] == "UDAPI100050"
    assert err["message"] == "Invalid token used to access API"
    assert {"propertyPath", "invalidValue", "property_path", "invalid_value"} <= set(err)


def test_faults_429_then_5xx_via_control_api(sim: Simulator) -> None:
    async def go() -> list[int]:
        async with aiohttp.ClientSession() as s:
            url = sim.base_url + "/_sim/faults"
            spec = {"rate_limit": 2, "server_errors": 1, "error_status": 503}
            async with s.post(url, json=spec, ssl=_ctx(sim)) as r:
                assert r.status == 200
            out = []
            for _ in range(4):
                status, body = await _get(sim, "/v2/market/status/NSE")
                out.append(status)
                if status == 429:
                    assert body["errors"][0]["errorCode"] == "UDAPI10005"
                    assert body["errors"][0]["message"] == "Too Many Request Sent"
            return out

    assert asyncio.run(go()) == [429, 429, 503, 200]


def test_outage_refuses_rest(sim: Simulator) -> None:
    sim.faults.outage(0.5)
    status, body = asyncio.run(_get(sim, "/v2/market/status/NSE"))
    assert status == 503 and body["status"] == "error"
    sim.faults.clear()


def test_historical_candles_and_ranges(sim: Simulator) -> None:
    s = sim.series[0]
    status, body = asyncio.run(
        _get(sim, f"/v3/historical-candle/{KEY}/minutes/1/2019-01-02/2019-01-02")
    )
    assert status == 200
    rows = body["data"]["candles"]
    stamps = [r[0] for r in rows]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    regular = [t for t in stamps if "T09:15" <= t[10:16] <= "T15:29"]
    assert len(regular) == 375 and rows[-1][0] == "2019-01-02T09:15:00+05:30"
    import datetime as dt

    from mixbot.simulators.upstox.market import at_ms

    i = list(s.end_ms).index(at_ms(dt.date(2019, 1, 2), dt.time(9, 16)))
    assert rows[-1][1:6] == [s.o[i], s.h[i], s.lo[i], s.c[i], round(s.v[i])]
    _, b30 = asyncio.run(_get(sim, f"/v3/historical-candle/{KEY}/minutes/30/2019-01-02/2019-01-01"))
    c30 = b30["data"]["candles"]
    assert c30[-1][0] == "2019-01-01T09:15:00+05:30" and len(c30) >= 2 * 13
    assert c30[-1][5] == sum(round(s.v[k]) for k in range(30))
    _, bd = asyncio.run(_get(sim, f"/v3/historical-candle/{KEY}/days/1/2019-01-10/2019-01-01"))
    assert [r[0][:10] for r in bd["data"]["candles"]] == ["2019-01-02", "2019-01-01"]  # past only
    status, err = asyncio.run(
        _get(sim, f"/v3/historical-candle/{KEY}/minutes/1/2019-03-10/2019-01-01")
    )
    assert status == 400 and err["status"] == "error"
    status, err = asyncio.run(_get(sim, f"/v3/historical-candle/{KEY}/minutes/301/2019-01-02"))
    assert status == 400


def test_instruments_master_and_market_calendar(sim: Simulator) -> None:
    async def master() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as s:
            url = sim.assets_url + "/market-quote/instruments/exchange/NSE.json.gz"
            async with s.get(url, ssl=_ctx(sim)) as r:
                return list(json.loads(gzip.decompress(await r.read())))

    rows = asyncio.run(master())
    assert rows[0]["instrument_key"] == KEY and rows[0]["segment"] == "NSE_FO"
    assert rows[0]["lot_size"] == 20 and rows[0]["trading_symbol"] == "BANKNIFTY"
    _, st = asyncio.run(_get(sim, "/v2/market/status/NSE"))
    assert st["data"]["status"] in {"NORMAL_OPEN", "NORMAL_CLOSE", "PRE_OPEN_END"}
    _, tm = asyncio.run(_get(sim, "/v2/market/timings/2019-01-03"))
    assert [t["exchange"] for t in tm["data"]] == ["NSE", "NFO"]
    _, hol = asyncio.run(_get(sim, "/v2/market/holidays"))
    assert "2019-03-04" in {h["date"] for h in hol["data"]}  # Mahashivratri: no data


def test_login_dialog_and_token(sim: Simulator) -> None:
    async def go() -> dict[str, Any]:
        async with aiohttp.ClientSession() as s:
            q = "client_id=k&redirect_uri=http://localhost:5000/cb&state=s1&response_type=code"
            url = f"{sim.base_url}/v2/login/authorization/dialog?{q}"
            async with s.get(url, ssl=_ctx(sim), allow_redirects=False) as r:
                assert r.status == 302
                loc = r.headers["Location"]
            assert loc.startswith("http://localhost:5000/cb?code=") and "state=s1" in loc
            code = loc.split("code=")[1].split("&")[0]
            form = {"code": code, "client_id": "k", "client_secret": "x",
                    "redirect_uri": "http://localhost:5000/cb", "grant_type": "authorization_code"}  # fmt: skip
            async with s.post(
                sim.base_url + "/v2/login/authorization/token", data=form, ssl=_ctx(sim)
            ) as r:
                assert r.status == 200
                tok = dict(await r.json())
            async with s.post(
                sim.base_url + "/v2/login/authorization/token", data=form, ssl=_ctx(sim)
            ) as r:
                assert r.status == 400  # codes are single-use
            return tok

    assert asyncio.run(go())["access_token"] == sim.token


def test_stall_and_drop_faults(sim: Simulator) -> None:
    async def go() -> tuple[float, aiohttp.WSMessage]:
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(await _ws_uri(sim, s), ssl=_ctx(sim)) as ws:
                await ws.receive()  # market_info
                sim.faults.stall(0.6)
                t0 = loop.time()
                await ws.send_bytes(_req("sub", [KEY], "ltpc"))
                first = _decode((await ws.receive()).data)
                gap = loop.time() - t0
                assert first.type == pb.initial_feed
                sim.faults.drop_now()
                while True:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        return gap, msg

    gap, last = asyncio.run(go())
    assert gap >= 0.5
    assert last.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)  # no close frame


def test_end_of_replay_closes_with_1000(data_dir: Path, tmp_path: Path) -> None:
    one = Simulator(
        files=[data_dir / FILE], start="2019-01-01", end="2019-01-01", tls_dir=tmp_path,
        ticks_per_bar=2,
    )  # fmt: skip

    async def go() -> tuple[pb.FeedResponse | None, aiohttp.WSMessage, int]:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(await _ws_uri(one, s), ssl=_ctx(one)) as ws:
                await ws.send_bytes(_req("sub", [KEY], "ltpc"))
                last, n = None, 0
                while True:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        return last, msg, n
                    last, n = _decode(msg.data), n + 1

    with one:
        last, close, n = asyncio.run(go())
        assert one.finished
    assert close.type == aiohttp.WSMsgType.CLOSE and close.data == 1000
    assert close.extra == "end of replay"
    assert n > 375 * 2 and last is not None and last.type == pb.market_info
    statuses = {pb.MarketStatus.Name(v) for v in last.marketInfo.segmentStatus.values()}
    assert statuses == {"NORMAL_CLOSE"}
