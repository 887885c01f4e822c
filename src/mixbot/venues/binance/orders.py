"""Binance spot orders through ccxt (sync): exchangeInfo filters, client order ids from bot
tags, crash-safe placing, and fills aggregated from execution reports.

Filters (Binance "Spot API > Filters", verified against the documentation): LOT_SIZE
(``minQty``, ``maxQty``, ``stepSize``: quantity = minQty + k * stepSize), PRICE_FILTER
(``tickSize``), MIN_NOTIONAL / NOTIONAL (``minNotional``: price x quantity). Quantities are
rounded DOWN to the step; limit prices to the tick AGAINST the order (BUY down, SELL up is
never better than asked: BUY rounds down, SELL rounds up); an order whose notional stays
below ``minNotional`` is refused here, before it is sent (:class:`OrderRefused`).

Client order ids: ``newClientOrderId`` must match ``^[.A-Z:/a-z0-9_-]{1,36}$`` (Binance
docs, "New order (TRADE)"); a bot tag (``<bot_id>:<bar>:<role>``) is used as is when it fits,
else ``<first 23 chars>-<12 hex of its SHA-1>``. The id is the order's name at Binance: after
a restart :meth:`BinanceOrders.find` looks it up (``GET /api/v3/order?origClientOrderId=``),
and :meth:`BinanceOrders.place_once` sends nothing when an order of that id exists. A send
whose outcome is unknown (timeout, dropped connection) is looked up by its id before any
retry, so no order is ever sent twice.

Types: MARKET, LIMIT (GTC), STOP_LOSS_LIMIT (GTC; ``stopPrice`` triggers a LIMIT at
``price``). Weights: order POST 1 (and 1 ORDERS unit), GET order 4, openOrders 6, DELETE 1.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from mixbot.venues.binance.client import WeightGuard

_CID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


class OrderRefused(Exception):
    """An order refused before it was sent (filters) or by Binance (its code and message)."""


def client_order_id(tag: str) -> str:
    """The ``newClientOrderId`` of a bot tag (see the module docstring)."""
    if _CID.match(tag):
        return tag
    clean = re.sub(r"[^.A-Z:/a-z0-9_-]", "_", tag)
    return f"{clean[:23]}-{hashlib.sha1(tag.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Filters:
    """A symbol's exchangeInfo filters (quantities in base units, prices in quote units)."""

    step: float
    min_qty: float
    max_qty: float
    tick: float
    min_notional: float

    @classmethod
    def of_market(cls, market: dict[str, Any]) -> Filters:
        """From a ccxt market's raw ``info.filters``."""
        f = {x["filterType"]: x for x in market["info"].get("filters", [])}
        lot, pf = f.get("LOT_SIZE", {}), f.get("PRICE_FILTER", {})
        notional = f.get("MIN_NOTIONAL") or f.get("NOTIONAL") or {}
        return cls(
            float(lot.get("stepSize", 0) or 0), float(lot.get("minQty", 0) or 0),
            float(lot.get("maxQty", math.inf) or math.inf), float(pf.get("tickSize", 0) or 0),
            float(notional.get("minNotional", 0) or 0),
        )  # fmt: skip

    def qty(self, raw: float) -> float:
        """``raw`` rounded down to the step (0.0 when below ``minQty``); capped at maxQty."""
        q = min(raw, self.max_qty)
        if self.step > 0:
            q = math.floor(q / self.step + 1e-9) * self.step
            q = round(q, 12)
        return q if q >= self.min_qty and q > 0 else 0.0

    def price(self, raw: float, side: str) -> float:
        """``raw`` on the tick grid: BUY rounds down, SELL up."""
        if self.tick <= 0:
            return raw
        n = raw / self.tick
        n = math.floor(n + 1e-9) if side == "BUY" else math.ceil(n - 1e-9)
        return round(n * self.tick, 12)


@dataclass
class Fill:
    """What the execution reports of one order said: cumulative quantity (base), quote
    spent/received, the size-weighted average price, commission per asset."""

    order_id: str
    client_id: str
    side: str
    qty: float = 0.0
    quote: float = 0.0
    status: str = "NEW"
    commission: dict[str, float] = field(default_factory=dict)
    trades: set[int] = field(default_factory=set)

    @property
    def avg_price(self) -> float:
        """Size-weighted average fill price (quote per base), 0.0 before a fill."""
        return self.quote / self.qty if self.qty else 0.0


class FillBook:
    """Fills of many orders, from ``executionReport`` events (each trade counted once, by
    its trade id ``t``, so a replayed report after a reconnect changes nothing)."""

    def __init__(self) -> None:
        self.by_client: dict[str, Fill] = {}

    def apply(self, ev: dict[str, Any]) -> Fill | None:
        """Apply one user-data event; returns the order's :class:`Fill` (None: not an
        execution report)."""
        if ev.get("e") != "executionReport":
            return None
        cid = str(ev["c"]) if ev.get("x") != "CANCELED" or not ev.get("C") else str(ev["C"])
        f = self.by_client.setdefault(cid, Fill(str(ev["i"]), cid, str(ev["S"])))
        f.status = str(ev["X"])
        tid = int(ev.get("t", -1))
        if ev.get("x") == "TRADE" and tid not in f.trades:
            f.trades.add(tid)
            last_qty, last_price = float(ev["l"]), float(ev["L"])
            f.qty += last_qty
            f.quote += last_qty * last_price
            if ev.get("N"):
                f.commission[str(ev["N"])] = f.commission.get(str(ev["N"]), 0.0) + float(ev["n"])
        return f


class BinanceOrders:
    """Orders of one symbol through a sync ccxt ``binance`` (credentials set).

    Args:
        ex: ``ccxt.binance`` from :func:`mixbot.venues.binance.client.make_sync`.
        symbol: ccxt symbol (``BTC/USDT``) or Binance id (``BTCUSDT``).
        guard: the weight guard (default one at 4,800 per minute).

    Raises (every method): ccxt errors other than the ones handled, as ccxt raises them.
    """

    def __init__(self, ex: Any, symbol: str, guard: WeightGuard | None = None) -> None:
        self.ex = ex
        self.guard = guard or WeightGuard()
        self.guard.call(ex, ex.load_markets, weight=20)
        self.symbol = symbol if "/" in symbol else ex.markets_by_id[symbol.upper()][0]["symbol"]
        self.filters = Filters.of_market(ex.market(self.symbol))
        self.sent = 0  # POST /api/v3/order calls made

    def find(self, tag: str) -> dict[str, Any] | None:
        """The order named by ``tag``'s client order id at Binance, or None."""
        import ccxt

        cid = client_order_id(tag)
        try:
            return self.guard.call(  # type: ignore[no-any-return]
                self.ex, lambda: self.ex.fetch_order(None, self.symbol, {"origClientOrderId": cid}),
                weight=4,
            )  # fmt: skip
        except ccxt.OrderNotFound:
            return None

    def place(
        self, tag: str, side: str, type_: str, qty: float,
        price: float | None = None, stop: float | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Send one order (``side`` BUY/SELL, ``type_`` MARKET/LIMIT/STOP_LOSS_LIMIT;
        quantity and prices rounded by the filters). An unknown outcome is resolved by
        looking the client order id up; never sent twice.

        Raises:
            OrderRefused: below the filters, or Binance refused it (its message).
        """
        import ccxt

        q = self.filters.qty(qty)
        px = self.filters.price(price, side) if price is not None else None
        ref = px if px is not None else float(self.ex.markets[self.symbol].get("last") or 0)
        if q <= 0:
            raise OrderRefused(
                f"{tag}: quantity {qty:g} below LOT_SIZE minQty {self.filters.min_qty:g}"
            )
        if ref and q * ref < self.filters.min_notional:
            raise OrderRefused(
                f"{tag}: notional {q * ref:.2f} below MIN_NOTIONAL {self.filters.min_notional:g}"
            )
        params: dict[str, Any] = {"newClientOrderId": client_order_id(tag),
                                  "newOrderRespType": "FULL"}  # fmt: skip
        if type_ != "MARKET":
            params["timeInForce"] = "GTC"
        if type_ == "STOP_LOSS_LIMIT":
            params["stopPrice"] = self.filters.price(
                float(stop or 0), "SELL" if side == "BUY" else "BUY"
            )
        kind = {"MARKET": "market", "LIMIT": "limit", "STOP_LOSS_LIMIT": "STOP_LOSS_LIMIT"}[type_]
        try:
            self.sent += 1
            return self.guard.call(  # type: ignore[no-any-return]
                self.ex, lambda: self.ex.create_order(self.symbol, kind, side.lower(), q, px, params),
                weight=1, order=True,
            )  # fmt: skip
        except (ccxt.InvalidOrder, ccxt.InsufficientFunds) as exc:
            raise OrderRefused(f"{tag}: {exc}") from exc
        except ccxt.NetworkError:
            found = self.find(tag)  # did it reach Binance?
            if found is not None:
                return found
            raise

    def place_once(self, tag: str, *args: Any, **kw: Any) -> tuple[dict[str, Any], bool]:
        """``(order, sent)``: the order of ``tag`` found at Binance (``sent`` False) or placed
        now (True). Crash recovery: a restarted bot calls this for its stored intents."""
        found = self.find(tag)
        if found is not None:
            return found, False
        return self.place(tag, *args, **kw), True

    def open_orders(self) -> list[dict[str, Any]]:
        return self.guard.call(  # type: ignore[no-any-return]
            self.ex, lambda: self.ex.fetch_open_orders(self.symbol), weight=6
        )

    def cancel(self, tag: str) -> dict[str, Any] | None:
        """Cancel the order of ``tag``; None when Binance has no open order of that id."""
        import ccxt

        cid = client_order_id(tag)
        try:
            return self.guard.call(  # type: ignore[no-any-return]
                self.ex, lambda: self.ex.cancel_order(None, self.symbol, {"origClientOrderId": cid}),
                weight=1,
            )  # fmt: skip
        except ccxt.OrderNotFound:
            return None
