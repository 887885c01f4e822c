"""The simulator's HTTPS server (aiohttp): REST routes, instrument files, websocket, control.

Routes (Upstox paths; JSON answers ``{"status": "success", "data": ...}`` unless noted):

* ``GET /v2/login/authorization/dialog?client_id&redirect_uri&state&response_type=code`` ->
  302 to ``redirect_uri?code=<one-time>&state=..`` (no login page: the user "logs in" at once);
* ``POST /v2/login/authorization/token`` (form: code, client_id, client_secret,
  redirect_uri, grant_type) -> the flat token JSON (email, ..., ``access_token`` = the
  simulator's token); an unknown/used code -> 400 ``UDAPI100057``;
* ``GET /v2/user/profile``;
* ``GET /v3/feed/market-data-feed/authorize`` -> ``authorized_redirect_uri`` and
  ``authorizedRedirectUri`` (``wss://`` URL, single-use code; see :mod:`.ws`);
* ``GET /v3/historical-candle/{key}/{unit}/{interval}/{to_date}[/{from_date}]`` (past days
  only, before the simulated today) and ``GET /v3/historical-candle/intraday/{key}/{unit}/
  {interval}`` (the simulated today's completed 1-minute bars up to now); see :mod:`.candles`;
* ``GET /v2/market-quote/quotes|ltp|ohlc``, ``GET /v3/market-quote/ltp|ohlc`` (:mod:`.quotes`);
* ``GET /v2/market/status/{exchange}``, ``/v2/market/timings/{date}``,
  ``/v2/market/holidays[/{date}]`` (:mod:`.market`);
* ``GET /assets/market-quote/instruments/exchange/{NSE|complete}.json.gz`` (no auth; the
  gzip bytes, ``Content-Type: application/gzip``, no Content-Encoding);
* ``POST|GET /_sim/faults`` and ``GET /_sim/status`` (no auth, loopback clients only);
* orders, trades, positions, funds and the portfolio stream: see :mod:`.orders`.

Every REST call under ``/v2`` and ``/v3`` needs ``Authorization: Bearer <token>``, else 401
``UDAPI100050``; the candle routes also accept NO Authorization header (the official SDK's
``HistoryV3Api`` sends none), but a wrong token there is still a 401. Every error, bad requests and unknown paths included, is an Upstox JSON
error envelope (:mod:`.errors`), never a traceback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from mixbot.simulators.upstox import candles as cd
from mixbot.simulators.upstox import quotes as qt
from mixbot.simulators.upstox.errors import INVALID_TOKEN, ApiError, envelope
from mixbot.simulators.upstox.exchange import Exchange
from mixbot.simulators.upstox.faults import Faults
from mixbot.simulators.upstox.instruments import ist_date, master_gz
from mixbot.simulators.upstox.market import at_ms
from mixbot.simulators.upstox.replay import Replay
from mixbot.simulators.upstox.ws import LIMITS, Connection

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WS_PATHS = (
    "/v3/feed/market-data-feed",
    "/market-data-feeder/",
    "/v2/feed/portfolio-stream-feed",
    "/upstox-developer-api/",
)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class Context:
    """Everything the handlers share."""

    replay: Replay
    faults: Faults
    token: str
    limits: dict[str, int] = field(default_factory=lambda: dict(LIMITS))
    feed_codes: set[str] = field(default_factory=set)
    auth_codes: set[str] = field(default_factory=set)
    connections: set[Connection] = field(default_factory=set)
    master: bytes = b""
    exchange: Exchange | None = None
    #: called after a login issued the current token (the simulator's daily expiry waits on it)
    on_login: Callable[[], None] | None = None


CTX: web.AppKey[Context] = web.AppKey("ctx", Context)


def ok(data: Any) -> web.Response:
    return web.json_response({"status": "success", "data": data})


def _ctx(request: web.Request) -> Context:
    return request.app[CTX]


def require_auth(request: web.Request, optional: bool = False) -> None:
    """401 ``UDAPI100050`` unless the Bearer token is the simulator's (``optional``: a
    request WITHOUT an Authorization header passes)."""
    header = request.headers.get("Authorization", "")
    if optional and not header:
        return
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token or not secrets.compare_digest(token, _ctx(request).token):
        raise ApiError(401, *INVALID_TOKEN)


@web.middleware
async def errors_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return err.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = "UDAPI100060" if exc.status == 404 else f"UDAPI{exc.status}"
        body = envelope(code, f"{exc.reason}: {request.method} {request.path}")
        return web.json_response(body, status=exc.status)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:  # a bug: log it, answer an envelope
        log.exception("simulator error on %s %s", request.method, request.path)
        return web.json_response(envelope("UDAPI100500", "Internal simulator error"), status=500)


@web.middleware
async def faults_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if not path.startswith(("/v2/", "/v3/", "/market-data-feeder/", "/upstox-developer-api/")):
        return await handler(request)
    f = _ctx(request).faults
    if f.outage_left() > 0:
        raise ApiError(503, "UDAPI100503", "Service unavailable (simulated outage)")
    if path.startswith(WS_PATHS):
        return await handler(request)
    err = f.take_rest_fault()
    if f.delay_ms:
        await asyncio.sleep(f.delay_ms / 1000)
    if err is not None:
        raise err
    return await handler(request)


# ------------------------------------------------------------------ login / user


async def login_dialog(request: web.Request) -> web.StreamResponse:
    q = request.query
    redirect = q.get("redirect_uri")
    if not q.get("client_id") or not redirect or q.get("response_type", "code") != "code":
        raise ApiError(
            400,
            "UDAPI100068",
            "Check your 'client_id' and 'redirect_uri'; one or both are incorrect.",
        )
    code = secrets.token_urlsafe(6)
    _ctx(request).auth_codes.add(code)
    params = {"code": code, **({"state": q["state"]} if "state" in q else {})}
    sep = "&" if "?" in redirect else "?"
    raise web.HTTPFound(f"{redirect}{sep}{urlencode(params)}")


_PROFILE = {
    "email": "sim@example.invalid",
    "exchanges": ["NSE", "NFO"],
    "products": ["D", "I", "CO", "MTF"],
    "broker": "UPSTOX",
    "user_id": "SIM001",
    "user_name": "mixbot simulator",
    "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
    "user_type": "individual",
    "poa": False,
    "is_active": True,
}


async def login_token(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    code = str(form.get("code", ""))
    ctx = _ctx(request)
    if code not in ctx.auth_codes:
        raise ApiError(400, "UDAPI100057", "Invalid Auth code", "code", code or None)
    ctx.auth_codes.discard(code)
    if ctx.on_login is not None:
        ctx.on_login()
    return web.json_response({**_PROFILE, "access_token": ctx.token, "extended_token": None})


async def profile(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    return ok(_PROFILE)


# ------------------------------------------------------------------ feed


async def feed_authorize(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    code = secrets.token_urlsafe(12)
    _ctx(request).feed_codes.add(code)
    query = urlencode({"requestId": secrets.token_hex(8), "code": code})
    uri = f"wss://{request.host}/market-data-feeder/v3/upstox-developer-api/feeds?{query}"
    return ok({"authorized_redirect_uri": uri, "authorizedRedirectUri": uri})


async def feed_ws(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    if request.path.startswith("/market-data-feeder/"):
        code = request.query.get("code", "")
        if code not in ctx.feed_codes:
            raise ApiError(403, "UDAPI100050", "Invalid or already used feed authorization code")
        ctx.feed_codes.discard(code)
    else:
        require_auth(request)
    transport = request.transport
    ws = web.WebSocketResponse(max_msg_size=1 << 20)
    await ws.prepare(request)
    conn = Connection(ws, transport, ctx.replay, ctx.faults, ctx.limits)
    ctx.connections.add(conn)
    try:
        await conn.run()
    finally:
        ctx.connections.discard(conn)
    return ws


# ------------------------------------------------------------------ candles


def _series(request: web.Request) -> Any:
    key = request.match_info["key"]
    s = _ctx(request).replay.by_key.get(key)
    if s is None:
        raise ApiError(400, "UDAPI100011", "Invalid Instrument key", "instrument_key", key)
    return s


async def historical(request: web.Request) -> web.StreamResponse:
    require_auth(request, optional=True)  # the official SDK sends no token here
    m = request.match_info
    s = _series(request)
    unit, n = cd.parse_interval(m["unit"], m["interval"])
    to_day = cd.parse_date(m["to_date"], "to_date")
    from_raw = m.get("from_date")
    from_day = (
        cd.parse_date(from_raw, "from_date") if from_raw else cd.default_from(unit, n, to_day)
    )
    cd.check_range(unit, n, from_day, to_day)
    replay = _ctx(request).replay
    today = ist_date(replay.clock.now_ms())
    upto = at_ms(today, dt.time(0))  # past days only
    return ok({"candles": cd.candles(s, unit, n, from_day, to_day, upto)})


async def intraday(request: web.Request) -> web.StreamResponse:
    require_auth(request, optional=True)  # the official SDK sends no token here
    m = request.match_info
    s = _series(request)
    unit, n = cd.parse_interval(m["unit"], m["interval"])
    if unit in ("weeks", "months"):
        raise ApiError(
            400, "UDAPI1146", "Invalid unit for intraday: minutes, hours or days", "unit"
        )
    now = _ctx(request).replay.clock.now_ms()
    today = ist_date(now)
    return ok({"candles": cd.candles(s, unit, n, today, today, now)})


# ------------------------------------------------------------------ quotes


def _quote_answer(request: web.Request, fn: Callable[[Any, int], dict[str, Any]]) -> web.Response:
    require_auth(request)
    replay = _ctx(request).replay
    now = replay.clock.now_ms()
    states = qt.requested(replay, dict(request.query))
    return ok({st.inst.quote_key: fn(st, now) for st in states})


async def quotes_v2(request: web.Request) -> web.StreamResponse:
    return _quote_answer(request, qt.full_quote)


async def ltp_v2(request: web.Request) -> web.StreamResponse:
    return _quote_answer(request, lambda st, now: qt.ltp_v2(st))


async def ltp_v3(request: web.Request) -> web.StreamResponse:
    return _quote_answer(request, lambda st, now: qt.ltp_v3(st))


def _ohlc(request: web.Request, v3: bool) -> web.Response:
    replay = _ctx(request).replay
    interval = request.query.get("interval", "")
    fn = qt.ohlc_v3 if v3 else qt.ohlc_v2
    return _quote_answer(request, lambda st, now: fn(replay, st, interval, now))


async def ohlc_v2(request: web.Request) -> web.StreamResponse:
    return _ohlc(request, v3=False)


async def ohlc_v3(request: web.Request) -> web.StreamResponse:
    return _ohlc(request, v3=True)


# ------------------------------------------------------------------ market


async def market_status(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    replay = _ctx(request).replay
    exchange = request.match_info["exchange"].upper()
    status = replay.statuses()["NSE_EQ"]
    return ok({"exchange": exchange, "status": status, "last_updated": replay.clock.now_ms()})


async def market_timings(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    day = cd.parse_date(request.match_info["date"], "date")
    return ok(_ctx(request).replay.calendar.timings(day))


async def market_holidays(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    raw = request.match_info.get("date")
    day = cd.parse_date(raw, "date") if raw else None
    return ok(_ctx(request).replay.calendar.holiday_rows(day))


# ------------------------------------------------------------------ assets / control


async def instruments_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ("NSE", "complete"):
        raise web.HTTPNotFound()
    return web.Response(body=_ctx(request).master, content_type="application/gzip")


def _loopback(request: web.Request) -> None:
    if request.remote not in LOOPBACK:
        raise ApiError(403, "UDAPI100403", "The control API answers loopback clients only")


async def faults_get(request: web.Request) -> web.StreamResponse:
    _loopback(request)
    return ok(_ctx(request).faults.snapshot())


async def faults_post(request: web.Request) -> web.StreamResponse:
    _loopback(request)
    try:
        spec = await request.json()
    except ValueError:
        raise ApiError(400, "UDAPI100101", "Body must be a JSON object") from None
    if not isinstance(spec, dict):
        raise ApiError(400, "UDAPI100101", "Body must be a JSON object")
    faults = _ctx(request).faults
    try:
        faults.apply(spec)
    except ValueError as exc:
        raise ApiError(400, "UDAPI100101", str(exc)) from None
    return ok(faults.snapshot())


async def sim_status(request: web.Request) -> web.StreamResponse:
    _loopback(request)
    replay = _ctx(request).replay
    now = replay.clock.now_ms()
    return ok(
        {
            "now_ms": now,
            "now": dt.datetime.fromtimestamp(now / 1000, dt.UTC).isoformat(),
            "running": replay.clock.running,
            "finished": replay.finished,
            "status": replay.statuses(now),
            "instruments": sorted(replay.by_key),
            "days": [replay.days[0].isoformat(), replay.days[-1].isoformat()],
            "connections": len(_ctx(request).connections),
        }
    )


def build_app(ctx: Context) -> web.Application:
    """The aiohttp application for ``ctx``."""
    ctx.master = master_gz([s.inst for s in ctx.replay.series])
    app = web.Application(middlewares=[errors_mw, faults_mw])
    app[CTX] = ctx
    r = app.router
    r.add_get("/v2/login/authorization/dialog", login_dialog)
    r.add_post("/v2/login/authorization/token", login_token)
    r.add_get("/v2/user/profile", profile)
    r.add_get("/v3/feed/market-data-feed/authorize", feed_authorize)
    r.add_get("/v3/feed/market-data-feed", feed_ws)
    r.add_get("/market-data-feeder/v3/upstox-developer-api/feeds", feed_ws)
    r.add_get("/v3/historical-candle/intraday/{key}/{unit}/{interval}", intraday)
    r.add_get("/v3/historical-candle/{key}/{unit}/{interval}/{to_date}", historical)
    r.add_get("/v3/historical-candle/{key}/{unit}/{interval}/{to_date}/{from_date}", historical)
    r.add_get("/v2/market-quote/quotes", quotes_v2)
    r.add_get("/v2/market-quote/ltp", ltp_v2)
    r.add_get("/v3/market-quote/ltp", ltp_v3)
    r.add_get("/v2/market-quote/ohlc", ohlc_v2)
    r.add_get("/v3/market-quote/ohlc", ohlc_v3)
    r.add_get("/v2/market/status/{exchange}", market_status)
    r.add_get("/v2/market/timings/{date}", market_timings)
    r.add_get("/v2/market/holidays", market_holidays)
    r.add_get("/v2/market/holidays/{date}", market_holidays)
    r.add_get("/assets/market-quote/instruments/exchange/{name}.json.gz", instruments_file)
    r.add_get("/_sim/faults", faults_get)
    r.add_post("/_sim/faults", faults_post)
    r.add_get("/_sim/status", sim_status)
    from mixbot.simulators.upstox.orders import add_routes  # imports this module

    add_routes(app)
    return app
