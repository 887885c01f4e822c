"""The simulated Binance spot account: balances, orders, fills, and the matching rules.

Everything here runs under one lock and in simulated time (epoch ms, UTC, the server's
clock). Matching, deliberately simple and documented (the simulator stands for Binance;
it is no model of its order book):

* MARKET fills at once, in full, at the last price (the close of the last closed bar);
* LIMIT fills at once at the last price when it is marketable (BUY price >= last, SELL
  price <= last), else on the first later bar that trades through it: BUY when the bar's
  low <= price, at min(price, bar open); SELL when high >= price, at max(price, open);
* STOP_LOSS_LIMIT (SELL: stop below the market; BUY: above) triggers on the first bar whose
  low <= stop (SELL) / high >= stop (BUY), then rests as a LIMIT at its price (filled on
  that bar when its range reaches the price, at the price);
* commission 0.1 % of each fill, in the asset received (BUY: base, SELL: quote), as
  Binance's default without BNB discount.

Refusals carry Binance's codes (-1013 filter failure, -2010 new order rejected, -2011 cancel
rejected, -2013 order does not exist) and messages as documented in Binance's "Error codes
for Binance" page (spot); which messages Binance sends for which case is partly guessed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COMMISSION = 0.001


class ApiError(Exception):
    """A Binance error answer: HTTP ``status``, Binance ``code`` (negative) and ``msg``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass(frozen=True)
class SymbolRules:
    """exchangeInfo filters of the one symbol (prices in quote units, quantities in base)."""

    symbol: str = "BTCUSDT"
    base: str = "BTC"
    quote: str = "USDT"
    tick_size: float = 0.01
    step_size: float = 0.00001
    min_qty: float = 0.00001
    max_qty: float = 9000.0
    min_notional: float = 5.0


@dataclass
class SimOrder:
    """One order as the simulator keeps it (quantities base units, prices quote units)."""

    order_id: int
    client_id: str
    side: str
    type: str
    qty: float
    price: float
    stop: float
    tif: str
    time_ms: int
    status: str = "NEW"
    filled: float = 0.0
    quote: float = 0.0
    triggered: bool = False
    update_ms: int = 0
    fills: list[dict[str, Any]] = field(default_factory=list)


def _on_grid(x: float, step: float) -> bool:
    n = x / step
    return abs(n - round(n)) < 1e-6


class Account:
    """Balances and orders of the one simulated account; thread-safe.

    Args:
        rules: the symbol's filters.
        balances: opening free balances by asset (e.g. ``{"USDT": 100000.0}``).
        emit: called with each user-data event (``executionReport``,
            ``outboundAccountPosition``) as a dict; set later by the server.
    """

    def __init__(self, rules: SymbolRules, balances: dict[str, float]) -> None:
        self.rules = rules
        self.free: dict[str, float] = {rules.base: 0.0, rules.quote: 0.0, **balances}
        self.locked: dict[str, float] = {a: 0.0 for a in self.free}
        self.orders: dict[int, SimOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self.emit: Callable[[dict[str, Any]], None] = lambda ev: None
        self.reject_next = 0  # fault: refuse the next K new orders (-2010)
        self.last_price = 0.0
        self.lock = threading.RLock()
        self._next_id = 1000
        self._next_trade = 5000

    # ----------------------------------------------------------------- requests
    def new_order(self, p: dict[str, str], now_ms: int) -> SimOrder:
        """POST /api/v3/order (params as strings).

        Raises:
            ApiError: bad parameters, a filter failure, a duplicate client order id, an
                injected rejection or insufficient balance.
        """
        r = self.rules
        with self.lock:
            side, typ = p.get("side", ""), p.get("type", "")
            if p.get("symbol") != r.symbol:
                raise ApiError(400, -1121, "Invalid symbol.")
            if side not in ("BUY", "SELL") or typ not in ("MARKET", "LIMIT", "STOP_LOSS_LIMIT"):
                raise ApiError(400, -1116, "Invalid orderType.")
            cid = p.get("newClientOrderId") or f"sim{self._next_id}"
            if any(o.client_id == cid and o.status in ("NEW", "PARTIALLY_FILLED")
                   for o in self.orders.values()):  # fmt: skip
                raise ApiError(400, -2010, "Duplicate order sent.")
            qty = float(p.get("quantity", "0"))
            price = float(p.get("price", "0") or 0)
            stop = float(p.get("stopPrice", "0") or 0)
            self._check_filters(typ, qty, price, stop)
            if self.reject_next > 0:
                self.reject_next -= 1
                raise ApiError(400, -2010, "Order was rejected (simulated fault).")
            ref = price if typ != "MARKET" else self.last_price
            if typ == "STOP_LOSS_LIMIT" and (
                (side == "SELL" and self.last_price <= stop)
                or (side == "BUY" and self.last_price >= stop)
            ):
                raise ApiError(400, -2010, "Stop price would trigger immediately.")
            need_asset, need = (r.quote, qty * ref) if side == "BUY" else (r.base, qty)
            if self.free[need_asset] + 1e-9 < need:
                raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
            o = SimOrder(self._next_id, cid, side, typ, qty, price, stop,
                         p.get("timeInForce", "GTC"), now_ms, update_ms=now_ms)  # fmt: skip
            self._next_id += 1
            self.orders[o.order_id] = o
            self._lock_funds(need_asset, need)
            self._report(o, "NEW", now_ms)
            if typ == "MARKET" or (
                typ == "LIMIT"
                and ((side == "BUY" and price >= self.last_price)
                     or (side == "SELL" and price <= self.last_price))
            ):  # fmt: skip
                self._fill(o, self.last_price, now_ms)
            return o

    def _check_filters(self, typ: str, qty: float, price: float, stop: float) -> None:
        r = self.rules
        if not (r.min_qty <= qty <= r.max_qty) or not _on_grid(qty, r.step_size):
            raise ApiError(400, -1013, "Filter failure: LOT_SIZE")
        if typ != "MARKET":
            for x in (price, stop) if typ == "STOP_LOSS_LIMIT" else (price,):
                if x <= 0 or not _on_grid(x, r.tick_size):
                    raise ApiError(400, -1013, "Filter failure: PRICE_FILTER")
        ref = price if typ != "MARKET" else self.last_price
        if qty * ref < r.min_notional:
            raise ApiError(400, -1013, "Filter failure: MIN_NOTIONAL")

    def find(self, p: dict[str, str]) -> SimOrder:
        """The order named by ``orderId`` or ``origClientOrderId``.

        Raises:
            ApiError: -2013 when there is none.
        """
        with self.lock:
            if p.get("orderId"):
                o = self.orders.get(int(p["orderId"]))
            else:
                cid = p.get("origClientOrderId")
                o = next((x for x in reversed(self.orders.values()) if x.client_id == cid), None)
            if o is None:
                raise ApiError(400, -2013, "Order does not exist.")
            return o

    def cancel(self, p: dict[str, str], now_ms: int) -> SimOrder:
        """DELETE /api/v3/order.

        Raises:
            ApiError: -2011 unknown or already final order.
        """
        with self.lock:
            try:
                o = self.find(p)
            except ApiError:
                raise ApiError(400, -2011, "Unknown order sent.") from None
            if o.status not in ("NEW", "PARTIALLY_FILLED"):
                raise ApiError(400, -2011, "Unknown order sent.")
            o.status, o.update_ms = "CANCELED", now_ms
            self._release(o)
            self._report(o, "CANCELED", now_ms)
            return o

    def open_orders(self) -> list[SimOrder]:
        with self.lock:
            return [o for o in self.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")]

    # ----------------------------------------------------------------- matching
    def on_bar(self, o_: float, h: float, lo: float, c: float, close_ms: int) -> None:
        """A file bar closed at ``close_ms``: match resting orders against it, then the last
        price becomes its close."""
        with self.lock:
            for o in self.open_orders():
                if o.time_ms >= close_ms:
                    continue
                if o.type == "STOP_LOSS_LIMIT" and not o.triggered:
                    hit = lo <= o.stop if o.side == "SELL" else h >= o.stop
                    if not hit:
                        continue
                    o.triggered = True
                    if (o.side == "SELL" and h >= o.price) or (o.side == "BUY" and lo <= o.price):
                        self._fill(o, o.price, close_ms)
                    continue
                if o.side == "BUY" and lo <= o.price:
                    self._fill(o, min(o.price, o_), close_ms)
                elif o.side == "SELL" and h >= o.price:
                    self._fill(o, max(o.price, o_), close_ms)
            self.last_price = c

    def _fill(self, o: SimOrder, price: float, now_ms: int) -> None:
        r = self.rules
        qty = o.qty - o.filled
        quote = qty * price
        self._release(o)
        fee_asset = r.base if o.side == "BUY" else r.quote
        fee = (qty if o.side == "BUY" else quote) * COMMISSION
        if o.side == "BUY":
            self.free[r.quote] -= quote
            self.free[r.base] += qty - fee
        else:
            self.free[r.base] -= qty
            self.free[r.quote] += quote - fee
        o.filled, o.quote, o.status, o.update_ms = o.qty, o.quote + quote, "FILLED", now_ms
        tid = self._next_trade
        self._next_trade += 1
        fill = {"price": price, "qty": qty, "commission": fee, "commissionAsset": fee_asset,
                "tradeId": tid}  # fmt: skip
        o.fills.append(fill)
        self.trades.append({**fill, "orderId": o.order_id, "side": o.side, "time": now_ms,
                            "quote": quote, "clientOrderId": o.client_id})  # fmt: skip
        self._report(o, "TRADE", now_ms, fill)

    def _lock_funds(self, asset: str, amount: float) -> None:
        self.free[asset] -= amount
        self.locked[asset] += amount

    def _release(self, o: SimOrder) -> None:
        r = self.rules
        rest = o.qty - o.filled
        if o.side == "BUY":
            ref = o.price if o.type != "MARKET" else self.last_price
            asset, amount = r.quote, rest * ref
        else:
            asset, amount = r.base, rest
        amount = min(amount, self.locked[asset])
        self.locked[asset] -= amount
        self.free[asset] += amount

    # ----------------------------------------------------------------- events
    def _report(
        self, o: SimOrder, exec_type: str, now_ms: int, fill: dict[str, Any] | None = None
    ) -> None:
        f = fill or {}
        ev = {
            "e": "executionReport", "E": now_ms, "s": self.rules.symbol, "c": o.client_id,
            "S": o.side, "o": o.type, "f": o.tif, "q": _n(o.qty), "p": _n(o.price),
            "P": _n(o.stop), "F": "0.00000000", "g": -1, "C": "", "x": exec_type,
            "X": o.status, "r": "NONE", "i": o.order_id, "l": _n(f.get("qty", 0.0)),
            "z": _n(o.filled), "L": _n(f.get("price", 0.0)), "n": _n(f.get("commission", 0.0)),
            "N": f.get("commissionAsset"), "T": now_ms, "t": f.get("tradeId", -1),
            "w": o.status == "NEW", "m": False, "M": bool(fill), "O": o.time_ms,
            "Z": _n(o.quote), "Y": _n(f.get("qty", 0.0) * f.get("price", 0.0)), "Q": "0.00000000",
        }  # fmt: skip
        self.emit(ev)
        self.emit(self.position_event(now_ms))

    def position_event(self, now_ms: int) -> dict[str, Any]:
        """``outboundAccountPosition`` of the two assets."""
        return {
            "e": "outboundAccountPosition", "E": now_ms, "u": now_ms,
            "B": [{"a": a, "f": _n(self.free[a]), "l": _n(self.locked[a])} for a in self.free],
        }  # fmt: skip

    def balances(self) -> list[dict[str, str]]:
        with self.lock:
            return [{"asset": a, "free": _n(self.free[a]), "locked": _n(self.locked[a])}
                    for a in self.free]  # fmt: skip


def _n(x: float) -> str:
    return f"{x:.8f}" if math.isfinite(x) else "0"


def order_json(o: SimOrder, symbol: str, full: bool = False) -> dict[str, Any]:
    """The order as Binance answers GET /api/v3/order (``full``: the FULL response of POST
    /api/v3/order with ``transactTime`` and ``fills``)."""
    d: dict[str, Any] = {
        "symbol": symbol, "orderId": o.order_id, "orderListId": -1, "clientOrderId": o.client_id,
        "price": _n(o.price), "origQty": _n(o.qty), "executedQty": _n(o.filled),
        "cummulativeQuoteQty": _n(o.quote), "status": o.status, "timeInForce": o.tif,
        "type": o.type, "side": o.side, "stopPrice": _n(o.stop), "workingTime": o.time_ms,
        "selfTradePreventionMode": "NONE",
    }  # fmt: skip
    if full:
        d["transactTime"] = o.update_ms
        d["fills"] = [
            {"price": _n(f["price"]), "qty": _n(f["qty"]), "commission": _n(f["commission"]),
             "commissionAsset": f["commissionAsset"], "tradeId": f["tradeId"]}
            for f in o.fills
        ]  # fmt: skip
    else:
        d.update(time=o.time_ms, updateTime=o.update_ms, isWorking=o.status == "NEW",
                 icebergQty="0.00000000", origQuoteOrderQty="0.00000000")  # fmt: skip
    return d
