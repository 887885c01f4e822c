"""REST routes of the Binance simulator (``/api/v3``), shapes after Binance's spot REST API
documentation (developers.binance.com, "Spot API > General endpoints / Market data
endpoints / Trading endpoints / Account endpoints"). Errors are ``{"code": -N, "msg": ...}``
with the HTTP status Binance uses (4XX; 429 rate limit with ``Retry-After``; 418 ban).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from mixbot.simulators.binance.exchange import ApiError, order_json

if TYPE_CHECKING:
    from mixbot.simulators.binance.server import BinanceSim

Handler = Callable[[web.Request, dict[str, str]], Awaitable[Any]]


def exchange_info(sim: BinanceSim) -> dict[str, Any]:
    """GET /api/v3/exchangeInfo of the one symbol (filters PRICE_FILTER, LOT_SIZE,
    MIN_NOTIONAL, MARKET_LOT_SIZE)."""
    r, g = sim.rules, sim.guard
    return {
        "timezone": "UTC",
        "serverTime": sim.now_ms,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": g.weight_limit},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
             "limit": g.order_limit_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5,
             "limit": 61000},
        ],
        "exchangeFilters": [],
        "symbols": [{
            "symbol": r.symbol, "status": "TRADING", "baseAsset": r.base,
            "baseAssetPrecision": 8, "quoteAsset": r.quote, "quotePrecision": 8,
            "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT",
                           "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
            "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": f"{r.tick_size:.8f}",
                 "maxPrice": "1000000.00000000", "tickSize": f"{r.tick_size:.8f}"},
                {"filterType": "LOT_SIZE", "minQty": f"{r.min_qty:.8f}",
                 "maxQty": f"{r.max_qty:.8f}", "stepSize": f"{r.step_size:.8f}"},
                {"filterType": "MIN_NOTIONAL", "minNotional": f"{r.min_notional:.8f}",
                 "applyToMarket": True, "avgPriceMins": 5},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000",
                 "maxQty": f"{r.max_qty:.8f}", "stepSize": "0.00000000"},
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER",
                                                "EXPIRE_BOTH"],
        }],
    }  # fmt: skip


def add_rest_routes(app: web.Application, sim: BinanceSim) -> None:
    """Register the ``/api/v3`` routes of ``sim`` on ``app``."""

    def route(method: str, name: str, signed: bool, fn: Handler) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await _answer(sim, request, method, name, signed, fn)

        app.router.add_route(method, f"/api/v3/{name}", handler)

    acct = sim.account

    async def ping(req: web.Request, p: dict[str, str]) -> Any:
        return {}

    async def time_(req: web.Request, p: dict[str, str]) -> Any:
        return {"serverTime": sim.now_ms}

    async def info(req: web.Request, p: dict[str, str]) -> Any:
        return exchange_info(sim)

    async def klines(req: web.Request, p: dict[str, str]) -> Any:
        if p.get("symbol") != sim.rules.symbol:
            raise ApiError(400, -1121, "Invalid symbol.")
        iv = sim.interval_ms(p.get("interval", ""))
        limit = min(int(p.get("limit", 500)), 1000)
        start = int(p["startTime"]) if p.get("startTime") else None
        end = int(p["endTime"]) if p.get("endTime") else None
        try:
            return sim.bars.klines(iv, start, end, limit, sim.now_ms)
        except ValueError:
            raise ApiError(400, -1120, "Invalid interval.") from None

    async def account(req: web.Request, p: dict[str, str]) -> Any:
        return {
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
            "sellerCommission": 0, "canTrade": True, "canWithdraw": False,
            "canDeposit": False, "brokered": False, "requireSelfTradePrevention": False,
            "preventSor": False, "updateTime": sim.now_ms, "accountType": "SPOT",
            "balances": acct.balances(), "permissions": ["SPOT"], "uid": 1,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000",
                                "buyer": "0.00000000", "seller": "0.00000000"},
        }  # fmt: skip

    async def new_order(req: web.Request, p: dict[str, str]) -> Any:
        o = acct.new_order(p, sim.now_ms)
        sim.notify()
        return order_json(o, sim.rules.symbol, full=True)

    async def get_order(req: web.Request, p: dict[str, str]) -> Any:
        return order_json(acct.find(p), sim.rules.symbol)

    async def cancel_order(req: web.Request, p: dict[str, str]) -> Any:
        o = acct.cancel(p, sim.now_ms)
        sim.notify()
        d = order_json(o, sim.rules.symbol)
        d["origClientOrderId"] = o.client_id
        return d

    async def open_orders(req: web.Request, p: dict[str, str]) -> Any:
        return [order_json(o, sim.rules.symbol) for o in acct.open_orders()]

    async def my_trades(req: web.Request, p: dict[str, str]) -> Any:
        with acct.lock:
            trades = [
                t for t in acct.trades if not p.get("orderId") or t["orderId"] == int(p["orderId"])
            ]
        return [
            {"symbol": sim.rules.symbol, "id": t["tradeId"], "orderId": t["orderId"],
             "orderListId": -1, "price": f"{t['price']:.8f}", "qty": f"{t['qty']:.8f}",
             "quoteQty": f"{t['quote']:.8f}", "commission": f"{t['commission']:.8f}",
             "commissionAsset": t["commissionAsset"], "time": t["time"],
             "isBuyer": t["side"] == "BUY", "isMaker": False, "isBestMatch": True}
            for t in trades[-int(p.get("limit", 500)):]
        ]  # fmt: skip

    route("GET", "ping", False, ping)
    route("GET", "time", False, time_)
    route("GET", "exchangeInfo", False, info)
    route("GET", "klines", False, klines)
    route("GET", "account", True, account)
    route("POST", "order", True, new_order)
    route("GET", "order", True, get_order)
    route("DELETE", "order", True, cancel_order)
    route("GET", "openOrders", True, open_orders)
    route("GET", "myTrades", True, my_trades)


async def _answer(
    sim: BinanceSim, request: web.Request, method: str, name: str, signed: bool, fn: Handler
) -> web.StreamResponse:
    g = sim.guard
    fault = g.fault_for(request.path)
    if fault is not None:
        code = -1003 if fault.status in (418, 429) else -1000
        return _error(fault.status, code, f"simulated HTTP {fault.status}", fault.retry_after)
    used, retry = g.take_weight(method, name)
    headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
    if retry:
        return _error(429, -1003, "Too much request weight used; current limit is "
                      f"{g.weight_limit} request weight per 1 MINUTE.", retry)  # fmt: skip
    body = (await request.text()) if request.can_read_body else ""
    try:
        if signed:
            raw_query = request.raw_path.partition("?")[2]  # as signed: still URL-encoded
            params = g.check_signed(request.headers.get("X-MBX-APIKEY"), raw_query, body)
        else:
            params = dict(request.query)
            params.update(dict(parse_qsl(body)))
        if (method, name) == ("POST", "order"):
            count, retry = g.take_order()
            headers["X-MBX-ORDER-COUNT-10S"] = str(count)
            if retry:
                # Binance: "a 429 error without the Retry-After header" for order counts
                return _error(429, -1015, "Too many new orders; current limit is "
                              f"{g.order_limit_10s} orders per 10 SECOND.")  # fmt: skip
        result = await fn(request, params)
    except ApiError as exc:
        return _error(exc.status, exc.code, exc.msg, headers=headers)
    return web.json_response(result, headers=headers)


def _error(
    status: int, code: int, msg: str, retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:  # fmt: skip
    h = dict(headers or {})
    if retry_after is not None:
        h["Retry-After"] = str(retry_after)
    return web.json_response({"code": code, "msg": msg}, status=status, headers=h)
