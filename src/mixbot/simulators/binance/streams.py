"""Websockets of the Binance simulator.

* Market streams (``/ws`` and ``/ws/<anything>``, as ccxt numbers its connections; also a raw
  stream in the path, ``/ws/btcusdt@kline_1m``): ``{"method": "SUBSCRIBE", "params":
  ["btcusdt@kline_1m"], "id": N}`` is answered ``{"result": null, "id": N}``; then kline
  events (``e: kline``, ``k.x`` true when the candle is closed) as the clock moves. Any
  interval that is a multiple of the file's bar size is served (aggregated on the UTC grid).
  They stay open at the end of the replay (closed, 1000, when the simulator stops).
* WebSocket API (``/ws-api/v3``): ``userDataStream.subscribe.signature`` (params ``apiKey``,
  ``timestamp``, ``signature`` = HMAC-SHA256 of the other params sorted by name) answers
  ``{"id", "status": 200, "result": {"subscriptionId": 0}}``; then every account event as
  ``{"subscriptionId": 0, "event": {...}}`` (``executionReport``,
  ``outboundAccountPosition``). Also ``ping`` and ``time``. Shapes after Binance's docs
  "WebSocket API > User Data Stream requests" and "User Data Stream" (spot).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from mixbot.simulators.binance.bars import kline_row
from mixbot.simulators.binance.exchange import ApiError

if TYPE_CHECKING:
    from mixbot.simulators.binance.server import BinanceSim


class Streams:
    """The simulator's open websockets and what each subscribed to."""

    def __init__(self, sim: BinanceSim) -> None:
        self.sim = sim
        self.market: dict[web.WebSocketResponse, set[str]] = {}
        self.users: dict[web.WebSocketResponse, int] = {}
        self.subscribes = 0  # SUBSCRIBE requests answered (tests wait on it)
        self.user_subscribes = 0

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self._market)
        app.router.add_get("/ws/{rest:.*}", self._market)
        app.router.add_get("/stream/ws/{rest:.*}", self._market)
        app.router.add_get("/ws-api/v3", self._ws_api)

    # ------------------------------------------------------------------ market
    async def _market(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        subs: set[str] = set()
        rest = request.match_info.get("rest", "")
        if "@" in rest:
            subs.add(rest.lower())
        self.market[ws] = subs
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                method, params = req.get("method"), req.get("params") or []
                if method == "SUBSCRIBE":
                    subs.update(str(s).lower() for s in params)
                    self.subscribes += 1
                elif method == "UNSUBSCRIBE":
                    subs.difference_update(str(s).lower() for s in params)
                await ws.send_str(json.dumps({"result": None, "id": req.get("id")}))
                self.sim.notify()
        finally:
            self.market.pop(ws, None)
        return ws

    async def bar_closed(self, i: int) -> None:
        """File bar ``i`` closed: kline updates of every subscribed stream."""
        sim = self.sim
        close_ms = int(sim.bars.open_ms[i]) + sim.bars.step_ms
        sym = sim.rules.symbol.lower()
        for ws, subs in list(self.market.items()):
            for s in sorted(subs):
                name, _, kind = s.partition("@")
                if name != sym or not kind.startswith("kline_"):
                    continue
                iv = kind[len("kline_") :]
                try:
                    ms = sim.interval_ms(iv)
                except ApiError:
                    continue
                for ev in self._klines(ms, iv, close_ms):
                    await _send(ws, ev)

    def _klines(self, ms: int, iv: str, close_ms: int) -> list[dict[str, Any]]:
        """The update of the candle the file bar closing at ``close_ms`` belongs to (closed
        when that bar ends it), then, if it closed, the opening update of the next one."""
        b = self.sim.bars
        out = []
        bucket = (close_ms - 1) - (close_ms - 1) % ms
        first, last = b.index_at(bucket), b.closed_before(close_ms)
        ends = close_ms == bucket + ms
        if last > first:
            out.append(_event(self.sim, kline_row(bucket, ms, b.ohlcv[first:last]), iv, ends))
        nxt = b.index_at(close_ms)
        if ends and nxt < len(b.open_ms) and int(b.open_ms[nxt]) == close_ms:
            chunk = b.ohlcv[nxt : nxt + 1].copy()
            chunk[0, 1:4] = chunk[0, 0]
            chunk[0, 4] = 0.0
            out.append(_event(self.sim, kline_row(close_ms, ms, chunk), iv, False))
        return out

    # ------------------------------------------------------------------ WebSocket API
    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                await _send(ws, self._api_call(ws, req))
                self.sim.notify()
        finally:
            self.users.pop(ws, None)
        return ws

    def _api_call(self, ws: web.WebSocketResponse, req: dict[str, Any]) -> dict[str, Any]:
        rid, method = req.get("id"), req.get("method")
        params = dict(req.get("params") or {})
        limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                   "limit": self.sim.guard.weight_limit, "count": 2}]  # fmt: skip
        try:
            if method == "ping":
                result: Any = {}
            elif method == "time":
                result = {"serverTime": self.sim.now_ms}
            elif method == "userDataStream.subscribe.signature":
                if params.get("apiKey") != self.sim.guard.api_key:
                    raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
                sig = str(params.pop("signature", ""))
                payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
                self.sim.guard.verify(payload, sig)
                self.users[ws] = len(self.users)
                self.user_subscribes += 1
                result = {"subscriptionId": self.users[ws]}
            else:
                raise ApiError(400, -1100, f"Unknown method {method}.")
        except ApiError as exc:
            return {"id": rid, "status": exc.status,
                    "error": {"code": exc.code, "msg": exc.msg}}  # fmt: skip
        return {"id": rid, "status": 200, "result": result, "rateLimits": limits}

    def user_event(self, ev: dict[str, Any]) -> None:
        """Queue an account event to every user-data subscriber (called under the loop)."""
        for ws, sub in list(self.users.items()):
            asyncio.ensure_future(_send(ws, {"subscriptionId": sub, "event": ev}))

    # ------------------------------------------------------------------ faults
    async def drop_all(self) -> None:
        """Cut every socket at the TCP level (no close frame)."""
        for ws in [*self.market, *self.users]:
            tr = ws._req.transport if ws._req is not None else None  # type: ignore[attr-defined]
            if tr is not None:
                tr.abort()
        self.market.clear()
        self.users.clear()

    async def close_all(self) -> None:
        for ws in [*self.market, *self.users]:
            await ws.close()


def _event(sim: BinanceSim, row: list[Any], iv: str, closed: bool) -> dict[str, Any]:
    return {
        "e": "kline", "E": sim.now_ms, "s": sim.rules.symbol,
        "k": {"t": row[0], "T": row[6], "s": sim.rules.symbol, "i": iv, "f": 0, "L": 0,
              "o": row[1], "c": row[4], "h": row[2], "l": row[3], "v": row[5], "n": row[8],
              "x": closed, "q": row[7], "V": "0", "Q": "0", "B": "0"},
    }  # fmt: skip


async def _send(ws: web.WebSocketResponse, obj: dict[str, Any]) -> None:
    if not ws.closed:
        try:
            await ws.send_str(json.dumps(obj, separators=(",", ":")))
        except (ConnectionError, RuntimeError):
            pass
