"""The simulator's HTTP + websocket server (aiohttp), speaking OpenAlgo's API v1.

REST (``POST /api/v1/<endpoint>``, JSON body with ``apikey``; the shapes the official
``openalgo`` client 1.0.47 sends and reads, see the README for which are documented):

* orders: ``placeorder`` -> ``{"status": "success", "orderid"}``; ``placesmartorder``
  (``position_size``: the order is sized to move the position there, 0 = nothing to do);
  ``modifyorder``, ``cancelorder`` -> ``{"status": "success", "orderid"}``;
  ``orderstatus`` -> ``{"data": row}``; ``orderbook`` -> ``{"data": {"orders": [...],
  "statistics": {...}}}``; ``tradebook``, ``positionbook`` -> ``{"data": [...]}``;
  ``openposition`` -> ``{"quantity"}``;
* account and data: ``funds`` (strings), ``quotes`` (``{"data": {open, high, low, ltp,
  bid, ask, prev_close, volume, oi}}``), ``history`` (bars COMPLETED by the simulated now:
  ``{"data": [{"timestamp": epoch s of the bar START (daily: the date at 00:00 UTC),
  open, high, low, close, volume, oi}]}``; intervals 1m 3m 5m 10m 15m 30m 1h D),
  ``intervals``.

A wrong ``apikey`` -> 403 ``{"status": "error", "message": "Invalid openalgo apikey"}``; a
bad request -> 400 with a message; an unknown endpoint -> 404. Errors are JSON, never a
traceback.

Websocket (``ws://127.0.0.1:<ws port>``, any path): ``{"action": "authenticate",
"api_key"}`` -> ``{"type": "auth", "status": "success"|"error", ...}`` (a wrong key is
answered, then the socket is closed with code 1008); ``{"action": "subscribe"|
"unsubscribe", "symbol", "exchange", "mode": 1|2|3, "depth"}`` -> ``{"type": "subscribe",
"status", "subscriptions": [{symbol, exchange, status, mode, depth}]}``; then
``{"type": "market_data", "symbol", "exchange", "mode", "data": {...}}`` on every quote of
:mod:`.market` (mode 1: ltp, timestamp; 2: ohlc of the day, ltp, volume, last trade
quantity, timestamp; 3: ltp, timestamp, a 5-level made-up depth around the LTP).

Control (no key): ``POST /_sim/step {"bars": n}`` (speed 0: play n more bar ends; answers
once they are played), ``GET /_sim/status``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from mixbot.feeds.aggregator import BarAggregator
from mixbot.simulators.openalgo.exchange import Exchange, OrderError
from mixbot.simulators.openalgo.market import Event, Instrument, ist_day, ms_of

log = logging.getLogger(__name__)
INTERVALS = {"1m": 1, "3m": 3, "5m": 5, "10m": 10, "15m": 15, "30m": 30, "1h": 60, "D": 1440}
_EPOCH_DAY = 86_400


class ApiError(Exception):
    """An error answer: HTTP ``status`` and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Market:
    """Websocket subscribers and the day's quote state of every instrument."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.sockets: dict[web.WebSocketResponse, dict[tuple[str, str], int]] = {}
        self.day: dict[tuple[str, str], dict[str, Any]] = {}
        self.subscribed = asyncio.Event()

    async def broadcast(self, inst: Instrument, ev: Event) -> None:
        key = (inst.symbol, inst.exchange)
        day = ist_day(ev.ts_ms)
        q = self.day.get(key)
        if q is None or q["day"] != day:
            q = self.day[key] = {"day": day, "open": ev.price, "high": ev.price,
                                 "low": ev.price, "volume": 0.0,
                                 "prev_close": inst.prev_close.get(day, ev.price)}  # fmt: skip
        q["high"], q["low"] = max(q["high"], ev.price), min(q["low"], ev.price)
        q.update(ltp=ev.price, volume=ev.volume, ltq=ev.trade_qty, ts=ev.ts_ms)
        for ws, subs in list(self.sockets.items()):
            mode = subs.get(key)
            if mode is None or ws.closed:
                continue
            try:
                await ws.send_str(json.dumps(market_data(inst, q, mode)))
            except (ConnectionError, RuntimeError):
                self.sockets.pop(ws, None)

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1000, message=b"end of replay")


def market_data(inst: Instrument, q: dict[str, Any], mode: int) -> dict[str, Any]:
    """The ``market_data`` message of quote state ``q`` in ``mode``."""
    data: dict[str, Any] = {"ltp": q["ltp"], "timestamp": q["ts"]}
    if mode == 2:
        chg = q["ltp"] - q["prev_close"]
        data.update(open=q["open"], high=q["high"], low=q["low"], close=q["prev_close"],
                    volume=q["volume"], last_trade_quantity=q["ltq"], avg_trade_price=q["ltp"],
                    change=round(chg, 2),
                    change_percent=round(100 * chg / q["prev_close"], 2) if q["prev_close"] else 0)  # fmt: skip
    elif mode == 3:
        t = inst.tick_size
        data["depth"] = {
            "buy": [{"price": round(q["ltp"] - t * k, 2), "quantity": 100, "orders": 1} for k in range(1, 6)],
            "sell": [{"price": round(q["ltp"] + t * k, 2), "quantity": 100, "orders": 1} for k in range(1, 6)],
        }  # fmt: skip
    return {"type": "market_data", "symbol": inst.symbol, "exchange": inst.exchange,
            "mode": mode, "data": data}  # fmt: skip


def build_app(sim: Any) -> web.Application:
    """The aiohttp application of simulator ``sim`` (:class:`~.app.Simulator`)."""
    app = web.Application()
    app.router.add_post("/api/v1/{endpoint:.+}", lambda r: _rest(sim, r))
    app.router.add_post("/_sim/step", lambda r: _step(sim, r))
    app.router.add_get("/_sim/status", lambda r: _status(sim))
    app.router.add_get("/{tail:.*}", lambda r: _ws(sim, r))
    return app


async def _rest(sim: Any, request: web.Request) -> web.Response:
    endpoint = request.match_info["endpoint"].strip("/")
    try:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "Invalid JSON body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The body must be a JSON object")
        if body.get("apikey") != sim.api_key:
            raise ApiError(403, "Invalid openalgo apikey")
        handler = ROUTES.get(endpoint)
        if handler is None:
            raise ApiError(404, f"Unknown endpoint {endpoint!r}")
        sim.calls[endpoint] = sim.calls.get(endpoint, 0) + 1
        try:
            out = handler(sim, body)
        except OrderError as exc:
            raise ApiError(400, str(exc)) from None
        return web.json_response({"status": "success", **out})
    except ApiError as exc:
        return web.json_response({"status": "error", "message": str(exc)}, status=exc.status)


def _place(sim: Any, b: dict[str, Any]) -> dict[str, Any]:
    return {"orderid": sim.exchange.place(b)}


def _smart(sim: Any, b: dict[str, Any]) -> dict[str, Any]:
    ex: Exchange = sim.exchange
    held = sum(
        p["quantity"] for p in ex.positions()
        if (p["symbol"], p["exchange"], p["product"]) == (b.get("symbol"), b.get("exchange"), str(b.get("product") or "MIS"))
    )  # fmt: skip
    try:
        target = int(float(b.get("position_size") or 0))
    except ValueError:
        raise OrderError("position_size must be a number") from None
    delta = target - held
    if delta == 0:
        return {"message": "No action needed. Position size matches current position"}
    return {
        "orderid": ex.place({**b, "action": "BUY" if delta > 0 else "SELL", "quantity": abs(delta)})
    }


def _orderstatus(sim: Any, b: dict[str, Any]) -> dict[str, Any]:
    row = sim.exchange.order(str(b.get("orderid") or ""))
    if row is None:
        raise ApiError(404, f"Order {b.get('orderid')!r} not found")
    return {"data": row}


def _orderbook(sim: Any, b: dict[str, Any]) -> dict[str, Any]:
    rows = sim.exchange.orders()
    stats = {
        "total_buy_orders": sum(r["action"] == "BUY" for r in rows),
        "total_sell_orders": sum(r["action"] == "SELL" for r in rows),
        "total_completed_orders": sum(r["order_status"] == "complete" for r in rows),
        "total_open_orders": sum(r["order_status"] in ("open", "trigger pending") for r in rows),
        "total_rejected_orders": sum(r["order_status"] == "rejected" for r in rows),
    }
    return {"data": {"orders": rows, "statistics": stats}}


def _openposition(sim: Any, b: dict[str, Any]) -> dict[str, Any]:
    key = (b.get("symbol"), b.get("exchange"), b.get("product"))
    qty = sum(p["quantity"] for p in sim.exchange.positions()
              if (p["symbol"], p["exchange"], p["product"]) == key)  # fmt: skip
    return {"quantity": qty}


def _instrument(sim: Any, b: dict[str, Any]) -> Instrument:
    key = (str(b.get("symbol") or ""), str(b.get("exchange") or ""))
    inst = sim.exchange.instruments.get(key)
    if inst is None:
        raise ApiError(400, f"Symbol {key[0]!r} not found on exchange {key[1]!r}")
    return inst  # type: ignore[no-any-return]


def _quotes(sim: Any, b: dict[str, Any]) -> dict[str, Any]:
    inst = _instrument(sim, b)
    q = sim.market.day.get((inst.symbol, inst.exchange))
    if q is None:
        return {"data": {"ltp": 0.0, "open": 0.0, "high": 0.0, "low": 0.0, "bid": 0.0,
                         "ask": 0.0, "prev_close": 0.0, "volume": 0, "oi": 0}}  # fmt: skip
    t = inst.tick_size
    return {"data": {"ltp": q["ltp"], "open": q["open"], "high": q["high"], "low": q["low"],
                     "bid": round(q["ltp"] - t, 2), "ask": round(q["ltp"] + t, 2),
                     "prev_close": q["prev_close"], "volume": q["volume"], "oi": 0}}  # fmt: skip


def _history(sim: Any, b: dict[str, Any]) -> dict[str, Any]:
    import datetime as dt

    inst = _instrument(sim, b)
    minutes = INTERVALS.get(str(b.get("interval") or ""))
    if minutes is None:
        raise ApiError(400, f"interval must be one of {', '.join(INTERVALS)}")
    try:
        d0 = dt.date.fromisoformat(str(b.get("start_date")))
        d1 = dt.date.fromisoformat(str(b.get("end_date")))
    except ValueError:
        raise ApiError(400, "start_date and end_date must be YYYY-MM-DD") from None
    now = sim.exchange.now_ms
    agg = BarAggregator(minutes)
    bars = []
    for i, e in enumerate(inst.ends.astype("int64")):
        end = int(e)
        if end > now:
            break
        if not d0 <= ist_day(end) <= d1:
            continue
        o, h, lo, c, v = (float(x) for x in inst.ohlcv[i])
        end_dt = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=end)
        bars += agg.add_bar(end_dt, o, h, lo, c, v)
        if agg.bar_is_complete(end_dt):
            bars += agg.flush()
    rows = []
    for bar in bars:
        if minutes >= 1440:
            ts = (ist_day(ms_of(bar.end)) - dt.date(1970, 1, 1)).days * _EPOCH_DAY
        else:
            span = minutes * 60 if not inst.daily else inst.bar_seconds
            ts = ms_of(bar.end) // 1000 - span
        rows.append({"timestamp": ts, "open": bar.open, "high": bar.high, "low": bar.low,
                     "close": bar.close, "volume": int(bar.volume), "oi": 0})  # fmt: skip
    return {"data": rows}


ROUTES: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]] = {
    "placeorder": _place,
    "placesmartorder": _smart,
    "modifyorder": lambda s, b: {"orderid": s.exchange.modify(b)},
    "cancelorder": lambda s, b: {"orderid": s.exchange.cancel(str(b.get("orderid") or ""))},
    "orderstatus": _orderstatus,
    "orderbook": _orderbook,
    "tradebook": lambda s, b: {"data": s.exchange.trades()},
    "positionbook": lambda s, b: {"data": s.exchange.positions()},
    "openposition": _openposition,
    "funds": lambda s, b: {"data": s.exchange.funds()},
    "quotes": _quotes,
    "history": _history,
    "intervals": lambda s, b: {
        "data": {
            "minutes": [k for k in INTERVALS if k.endswith("m")],
            "hours": ["1h"],
            "days": ["D"],
        }
    },  # fmt: skip
}


async def _step(sim: Any, request: web.Request) -> web.Response:
    try:
        n = int((await request.json()).get("bars", 1))
    except (ValueError, TypeError, json.JSONDecodeError):
        n = 1
    target = await sim.replay.step(n)
    await sim.replay.wait_played(target)
    return await _status(sim)


async def _status(sim: Any) -> web.Response:
    r = sim.replay
    return web.json_response({"bars_played": r.pos, "bars_total": len(r.bars),
                              "now_ms": r.now_ms, "finished": r.finished})  # fmt: skip


async def _ws(sim: Any, request: web.Request) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return web.json_response({"status": "error", "message": "Not found"}, status=404)
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    market: Market = sim.market
    subs: dict[tuple[str, str], int] = {}
    authed = False
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            m = json.loads(msg.data)
            action = str(m.get("action") or "")
        except (json.JSONDecodeError, AttributeError):
            await ws.send_str(json.dumps({"status": "error", "message": "Invalid JSON"}))
            continue
        if action == "authenticate":
            if m.get("api_key") != sim.api_key:
                await ws.send_str(
                    json.dumps({"type": "auth", "status": "error", "message": "Invalid API key"})
                )
                await ws.close(code=1008, message=b"invalid api key")
                break
            authed = True
            await ws.send_str(json.dumps({"type": "auth", "status": "success", "message": "Authentication successful", "broker": "mixbot-sim", "user_id": "sim"}))  # fmt: skip
            if sim.replay.finished:
                await ws.close(code=1000, message=b"end of replay")
                break
            market.sockets[ws] = subs
        elif not authed:
            await ws.send_str(
                json.dumps({"type": "error", "status": "error", "message": "Not authenticated"})
            )
        elif action in ("subscribe", "unsubscribe"):
            await _subscribe(sim, ws, subs, m, action)
        else:
            await ws.send_str(
                json.dumps(
                    {"type": "error", "status": "error", "message": f"Unknown action {action!r}"}
                )
            )
    market.sockets.pop(ws, None)
    return ws


async def _subscribe(
    sim: Any,
    ws: web.WebSocketResponse,
    subs: dict[tuple[str, str], int],
    m: dict[str, Any],
    action: str,
) -> None:
    key = (str(m.get("symbol") or ""), str(m.get("exchange") or ""))
    mode = int(m.get("mode") or 1)
    ok = key in sim.exchange.instruments and mode in (1, 2, 3)
    if ok and action == "subscribe":
        subs[key] = mode
    elif ok:
        subs.pop(key, None)
    entry = {"symbol": key[0], "exchange": key[1], "status": "success" if ok else "error",
             "mode": mode, "depth": int(m.get("depth") or 5)}  # fmt: skip
    if not ok:
        entry["message"] = "unknown symbol or mode"
    await ws.send_str(json.dumps({"type": action, "status": "success" if ok else "error",
                                  "subscriptions": [entry], "message": f"{action} processed"}))  # fmt: skip
    if ok and action == "subscribe":
        sim.market.subscribed.set()
        sim.replay.started.set()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
