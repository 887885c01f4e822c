"""Order, portfolio and funds REST routes of the simulator, and the portfolio stream.

Routes (Bearer token; answers ``{"status": "success", "data": ...}``):

* ``POST /v3/order/place`` (JSON ``PlaceOrderV3Request``) -> ``data: {"order_ids": [...]}``
  plus ``metadata: {"latency": ms}``; ``slice: true`` splits a quantity above the freeze
  quantity into orders of at most the freeze quantity (whole lots; > 25 -> ``UDAPI1118``);
* ``PUT /v3/order/modify`` -> ``data: {"order_id"}`` + ``metadata``;
  ``DELETE /v3/order/cancel?order_id=`` -> ``data: {"order_id"}`` + ``metadata``;
* V2 twins: ``POST /v2/order/place`` -> ``data: {"order_id"}`` (no slicing),
  ``PUT /v2/order/modify``, ``DELETE /v2/order/cancel`` -> ``data: {"order_id"}``;
* ``GET /v2/order/details?order_id=`` (one order-book row),
  ``GET /v2/order/history?order_id=&tag=`` (a row per status change, every order matching
  both), ``GET /v2/order/retrieve-all`` (order book), ``GET /v2/order/trades/get-trades-for-day``,
  ``GET /v2/order/trades?order_id=``;
* ``GET /v2/portfolio/short-term-positions``, ``GET /v2/portfolio/long-term-holdings``
  (always ``[]``: the simulated account holds nothing), ``GET /v2/user/get-funds-and-margin
  [?segment=SEC|COM]`` -> ``{"equity": {...}, "commodity": {...}}``;
* the portfolio stream (:mod:`.portfolio`).

Validation errors are 400 Upstox envelopes. Codes from Upstox's order pages: UDAPI1026
(instrument key required), UDAPI100011 (invalid instrument key), UDAPI1052 (quantity zero),
UDAPI1004/UDAPI1056 (order type required/invalid), UDAPI1007/UDAPI1055 (validity
required/invalid), UDAPI1029 (price required), UDAPI1036 (trigger price required), UDAPI1003/
UDAPI1023 (order id required: modify/cancel), UDAPI100010 (order not found), UDAPI100040/
UDAPI100041 (cancel/modify of a finished order), UDAPI1118 (too many slices), UDAPI1119
(tag > 40). BEST GUESS codes (not documented): see :data:`GUESSED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from mixbot.simulators.upstox.errors import ApiError
from mixbot.simulators.upstox.exchange import Exchange, Order
from mixbot.simulators.upstox.instruments import Instrument
from mixbot.simulators.upstox.portfolio import ZERO_FUNDS, StreamClient, update_types
from mixbot.simulators.upstox.server import CTX, ok, require_auth

ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("I", "D", "MTF")
VALIDITIES = ("DAY", "IOC")
SIDES = ("BUY", "SELL")
MAX_SLICES = 25
#: best-guess codes (Upstox documents no code for these cases)
GUESSED = {
    "input": "UDAPI100036",  # documented as "Invalid Input" (generic), used for bad types
    "product": "UDAPI1054",
    "side": "UDAPI1053",
    "lot": "UDAPI1121",
    "freeze": "UDAPI1122",
    "tick": "UDAPI1123",
    "segment": "UDAPI100036",
}
STREAM_PATH = "/upstox-developer-api/order-updates/feed"


@dataclass
class Shared:
    """State of these routes: shutdown flag, stream clients, single-use stream codes."""

    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    clients: set[StreamClient] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)


SHARED: web.AppKey[Shared] = web.AppKey("orders_shared", Shared)


def bad(code: str, message: str, prop: str | None = None, value: Any = None) -> ApiError:
    return ApiError(400, code, message, prop, value)


def _exchange(request: web.Request) -> Exchange:
    ex = request.app[CTX].exchange
    if ex is None:
        raise web.HTTPNotFound()
    return ex


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad(GUESSED["input"], "Invalid Input: the body must be JSON") from None
    if not isinstance(body, dict):
        raise bad(GUESSED["input"], "Invalid Input: the body must be a JSON object")
    return body


def _number(body: dict[str, Any], name: str, integer: bool = False) -> float:
    v = body.get(name)
    if v is None:
        return 0.0
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise bad(GUESSED["input"], f"Invalid Input: '{name}' must be a number", name, v)
    if integer and v != int(v):
        raise bad(GUESSED["input"], f"Invalid Input: '{name}' must be an integer", name, v)
    return float(v)


def _prices(spec: dict[str, Any], inst: Instrument) -> None:
    """Price/trigger rules of each order type (raises ApiError)."""
    ot, price, trig = spec["order_type"], spec["price"], spec["trigger_price"]
    if ot in ("LIMIT", "SL") and price <= 0:
        raise bad("UDAPI1029", "Price is required", "price", price)
    if ot in ("SL", "SL-M") and trig <= 0:
        raise bad("UDAPI1036", "Trigger price is required", "trigger_price", trig)
    if ot in ("MARKET", "SL-M"):
        spec["price"] = 0.0
    if ot in ("MARKET", "LIMIT"):
        spec["trigger_price"] = 0.0
    tick = inst.tick or 0.05
    for name in ("price", "trigger_price"):
        x = spec[name]
        if x and abs(round(x / tick) * tick - x) > 1e-6:
            msg = f"'{name}' must be a multiple of the tick size {tick}"
            raise bad(GUESSED["tick"], msg, name, x)


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], codes: tuple[str, str]):
    v = body.get(name)
    label = name.replace("_", " ").capitalize()
    if v is None or v == "":
        raise bad(codes[0], f"{label} is required", name)
    if v not in allowed:
        raise bad(codes[1], f"The '{name}' is invalid: one of {list(allowed)}", name, v)
    return v


def parse_place(body: dict[str, Any], by_key: dict[str, Instrument]) -> dict[str, Any]:
    """A validated place request (raises ApiError 400)."""
    key = body.get("instrument_token")
    if not key:
        raise bad("UDAPI1026", "Instrument key is required", "instrument_token")
    if key not in by_key:
        raise bad("UDAPI100011", "Invalid Instrument key", "instrument_token", key)
    qty = _number(body, "quantity", integer=True)
    if qty <= 0:
        raise bad("UDAPI1052", "Order quantity cannot be zero", "quantity", body.get("quantity"))
    tag = body.get("tag")
    if tag is not None and (not isinstance(tag, str) or len(tag) > 40):
        raise bad("UDAPI1119", "Tag length cannot be greater than 40", "tag", tag)
    spec: dict[str, Any] = {
        "instrument_token": key,
        "quantity": int(qty),
        "order_type": _choice(body, "order_type", ORDER_TYPES, ("UDAPI1004", "UDAPI1056")),
        "validity": _choice(body, "validity", VALIDITIES, ("UDAPI1007", "UDAPI1055")),
        "product": _choice(body, "product", PRODUCTS, (GUESSED["product"],) * 2),
        "transaction_type": _choice(body, "transaction_type", SIDES, (GUESSED["side"],) * 2),
        "price": _number(body, "price"),
        "trigger_price": _number(body, "trigger_price"),
        "disclosed_quantity": int(_number(body, "disclosed_quantity", integer=True)),
        "tag": tag or None,
        "slice": bool(body.get("slice", False)),
    }
    _prices(spec, by_key[key])
    return spec


def slices(qty: int, inst: Instrument, allow: bool) -> list[int]:
    """The child quantities of an order (lot-size and freeze-quantity rules)."""
    lot = max(1, inst.lot_size)
    if qty % lot:
        msg = f"Quantity {qty} must be a multiple of the lot size {lot}"
        raise bad(GUESSED["lot"], msg, "quantity", qty)
    freeze = int(inst.freeze_quantity or 0)
    if not freeze or qty <= freeze:
        return [qty]
    if not allow:
        msg = f"Quantity {qty} exceeds the freeze quantity {freeze}; use slice=true"
        raise bad(GUESSED["freeze"], msg, "quantity", qty)
    chunk = max(lot, freeze // lot * lot)
    if math.ceil(qty / chunk) > MAX_SLICES:
        raise bad("UDAPI1118", "Maximum order limit exceeded with slicing", "quantity", qty)
    return [chunk] * (qty // chunk) + ([qty % chunk] if qty % chunk else [])


def _meta(data: Any, t0: float, v3: bool) -> web.Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if v3:
        body["metadata"] = {"latency": max(1, round((time.perf_counter() - t0) * 1000))}
    return web.json_response(body)


def _order_call(request: web.Request) -> Exchange:
    require_auth(request)
    err = request.app[CTX].faults.take_order_error()
    if err is not None:
        raise err
    return _exchange(request)


async def place(request: web.Request) -> web.StreamResponse:
    t0 = time.perf_counter()
    v3 = request.path.startswith("/v3/")
    ex = _order_call(request)
    spec = parse_place(await _body(request), ex.by_key)
    quantities = slices(spec["quantity"], ex.by_key[spec["instrument_token"]], v3 and spec["slice"])
    orders = ex.place(spec, quantities)
    drop = request.app[CTX].faults.take_drop()
    if drop is not None:  # the order exists; the client never hears about it
        if drop == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    request.app[SHARED].stopping.wait(), request.app[CTX].faults.hang_s
                )
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=204)  # never reaches the client: the socket is gone
    ids = [o.order_id for o in orders]
    return _meta({"order_ids": ids} if v3 else {"order_id": ids[0]}, t0, v3)


def _known(ex: Exchange, order_id: Any, missing_code: str) -> str:
    if not order_id:
        raise bad(missing_code, "Order id is required", "order_id")
    if ex.order(str(order_id)) is None:
        raise bad("UDAPI100010", "Order not found", "order_id", order_id)
    return str(order_id)


async def modify(request: web.Request) -> web.StreamResponse:
    t0 = time.perf_counter()
    ex = _order_call(request)
    body = await _body(request)
    order_id = _known(ex, body.get("order_id"), "UDAPI1003")
    cur = ex.order(order_id) or {}
    merged = {**cur, **{k: v for k, v in body.items() if v is not None}}
    merged["tag"], merged["slice"] = cur.get("tag"), False
    spec = parse_place(merged, ex.by_key)
    inst = ex.by_key[spec["instrument_token"]]
    slices(spec["quantity"], inst, allow=False)
    if spec["quantity"] < cur.get("filled_quantity", 0):
        msg = "Quantity cannot be less than the filled quantity"
        raise bad(GUESSED["input"], msg, "quantity", spec["quantity"])
    keys = ("quantity", "validity", "price", "order_type", "trigger_price", "disclosed_quantity")
    try:
        ex.modify(order_id, {k: spec[k] for k in keys})
    except ValueError as exc:
        msg = f"Modification of a {exc} order is not allowed"
        raise bad("UDAPI100041", msg, "order_id", order_id) from None
    return _meta({"order_id": order_id}, t0, request.path.startswith("/v3/"))


async def cancel(request: web.Request) -> web.StreamResponse:
    t0 = time.perf_counter()
    ex = _order_call(request)
    order_id = _known(ex, request.query.get("order_id"), "UDAPI1023")
    try:
        ex.cancel(order_id)
    except ValueError as exc:
        msg = f"Cancellation of a {exc} order is not allowed"
        raise bad("UDAPI100040", msg, "order_id", order_id) from None
    return _meta({"order_id": order_id}, t0, request.path.startswith("/v3/"))


async def details(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    ex = _exchange(request)
    order_id = _known(ex, request.query.get("order_id"), "UDAPI1023")
    return ok(ex.order(order_id))


async def history(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    ex = _exchange(request)
    order_id, tag = request.query.get("order_id"), request.query.get("tag")
    if not order_id and not tag:
        raise bad("UDAPI1023", "Order id or tag is required", "order_id")  # best guess
    if order_id:
        _known(ex, order_id, "UDAPI1023")
    return ok(ex.history(order_id or None, tag or None))  # unknown tag: [] (best guess)


async def order_book(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    return ok(_exchange(request).orders())


async def trades_for_day(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    return ok(_exchange(request).trades())


async def trades_by_order(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    ex = _exchange(request)
    order_id = _known(ex, request.query.get("order_id"), "UDAPI1023")
    return ok([t for t in ex.trades() if t["order_id"] == order_id])


async def positions(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    return ok(_exchange(request).positions())


async def holdings(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    _exchange(request)
    return ok([])


async def funds(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    ex = _exchange(request)
    seg = request.query.get("segment", "")
    if seg not in ("", "SEC", "COM"):
        raise bad(GUESSED["segment"], "Invalid segment: SEC or COM", "segment", seg)
    data: dict[str, Any] = {}
    if seg in ("", "SEC"):
        data["equity"] = ex.funds()
    if seg in ("", "COM"):
        data["commodity"] = dict(ZERO_FUNDS)
    return ok(data)


# ------------------------------------------------------------------ portfolio stream


async def stream_authorize(request: web.Request) -> web.StreamResponse:
    require_auth(request)
    code = secrets.token_urlsafe(12)
    request.app[SHARED].codes.add(code)
    q = {"requestId": secrets.token_hex(8), "code": code}
    if "update_types" in request.query:
        q["update_types"] = request.query["update_types"]
    uri = f"wss://{request.host}{STREAM_PATH}?{urlencode(q)}"
    return ok({"authorized_redirect_uri": uri, "authorizedRedirectUri": uri})


async def stream_ws(request: web.Request) -> web.StreamResponse:
    if request.path == STREAM_PATH:
        code = request.query.get("code", "")
        if code not in request.app[SHARED].codes:
            raise ApiError(403, "UDAPI100050", "Invalid or already used portfolio feed code")
        request.app[SHARED].codes.discard(code)
    else:
        require_auth(request)
    ex = _exchange(request)
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    client = StreamClient(ws, update_types(request.query.get("update_types")))
    ex.listeners.add(client.push)
    request.app[SHARED].clients.add(client)
    try:
        await client.run()
    finally:
        ex.listeners.discard(client.push)
        request.app[SHARED].clients.discard(client)
    return ws


async def _on_shutdown(app: web.Application) -> None:
    app[SHARED].stopping.set()
    for client in list(app[SHARED].clients):
        with contextlib.suppress(asyncio.QueueFull):
            client.queue.put_nowait(None)


def add_routes(app: web.Application) -> None:
    """Register the order/portfolio routes on the simulator's ``app``."""
    app[SHARED] = Shared()
    app.on_shutdown.append(_on_shutdown)
    r = app.router
    for v in ("v2", "v3"):
        r.add_post(f"/{v}/order/place", place)
        r.add_put(f"/{v}/order/modify", modify)
        r.add_delete(f"/{v}/order/cancel", cancel)
    r.add_get("/v2/order/details", details)
    r.add_get("/v2/order/history", history)
    r.add_get("/v2/order/retrieve-all", order_book)
    r.add_get("/v2/order/trades/get-trades-for-day", trades_for_day)
    r.add_get("/v2/order/trades", trades_by_order)
    r.add_get("/v2/portfolio/short-term-positions", positions)
    r.add_get("/v2/portfolio/long-term-holdings", holdings)
    r.add_get("/v2/user/get-funds-and-margin", funds)
    r.add_get("/v2/feed/portfolio-stream-feed/authorize", stream_authorize)
    r.add_get("/v2/feed/portfolio-stream-feed", stream_ws)
    r.add_get(STREAM_PATH, stream_ws)


__all__ = ["Order", "add_routes", "parse_place", "slices"]
