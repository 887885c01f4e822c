"""The simulated account behind the OpenAlgo simulator: orders, matching, trades, positions,
funds. Runs on the simulator's event loop (not thread-safe; the read methods return copies).

Matching (prices INR, quantities units):

* ``MARKET`` fills at once at the instrument's last traded price (LTP) plus/minus
  ``slippage_bps``; before the first trade of the replay it waits for that trade.
* ``LIMIT`` fills at once at the LTP when marketable, else rests; a resting BUY fills when a
  trade prints at or below its price: at the trade's price if that trade is a bar's opening
  gap, else at the limit price (the path between two trades of one bar is continuous).
  SELL mirrored.
* ``SL-M``: a BUY triggers when a trade prints at or above ``trigger_price`` and fills at
  the trigger (at the trade's price on a gap); SELL mirrored. ``SL``: on trigger it becomes
  a ``LIMIT`` at ``price`` (filled as above on the same trade when marketable).
* Statuses (OpenAlgo's normalised, lower case): ``open``, ``trigger pending``, ``complete``,
  ``cancelled``, ``rejected``. Every fill is one trade of the whole remaining quantity.

Cash: ``availablecash`` starts at ``cash``; a BUY pays quantity x price, a SELL receives it
(no margin model, no charges). Positions are net per (symbol, exchange, product) with the
average price of the open quantity.

Order ids are numeric strings (``25010100000001`` style). The order rows carry the
documented orderbook fields plus ``filled_quantity``, ``average_price``, ``strategy`` and
``tag`` (the client's extra body field, echoed: a SIMULATOR choice, see the README).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from mixbot.simulators.openalgo.market import IST, Event, Instrument

PRICE_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("MIS", "CNC", "NRML")
FINAL = ("complete", "cancelled", "rejected")


class OrderError(Exception):
    """A refused order request (-> HTTP 400 ``{"status": "error", "message": ...}``)."""


@dataclass
class Fill:
    """One exchange trade: order id, side, quantity (units), price (INR), epoch ms UTC."""

    order_id: str
    action: str
    qty: int
    price: float
    ts_ms: int


def stamp(ms: int) -> str:
    """OpenAlgo's timestamp text ``DD-Mon-YYYY HH:MM:SS`` in IST of epoch ms ``ms``."""
    return dt.datetime.fromtimestamp(ms / 1000.0, IST).strftime("%d-%b-%Y %H:%M:%S")


class Exchange:
    """Orders and the account of one API key (see the module docstring)."""

    def __init__(
        self, instruments: list[Instrument], cash: float = 10_000_000.0, slippage_bps: float = 0.0
    ) -> None:
        self.instruments = {(i.symbol, i.exchange): i for i in instruments}
        self.cash = float(cash)
        self.slippage_bps = float(slippage_bps)
        self.ltp: dict[tuple[str, str], float] = {}
        self.now_ms = 0
        self._orders: dict[str, dict[str, Any]] = {}
        self._fills: list[Fill] = []
        self._pos: dict[tuple[str, str, str], list[float]] = {}  # key -> [qty, avg]
        self._realized = 0.0
        self._seq = 0

    # ------------------------------------------------------------------ requests
    def place(self, body: dict[str, Any]) -> str:
        """A new order from a ``placeorder`` body (values may be strings); its order id.

        Raises:
            OrderError: a missing/invalid field or an unknown symbol.
        """
        key = (str(body.get("symbol") or ""), str(body.get("exchange") or ""))
        if key not in self.instruments:
            raise OrderError(f"Symbol {key[0]!r} not found on exchange {key[1]!r}")
        action = str(body.get("action") or "").upper()
        ptype = str(body.get("pricetype") or "MARKET").upper()
        product = str(body.get("product") or "MIS").upper()
        if action not in ("BUY", "SELL"):
            raise OrderError("action must be BUY or SELL")
        if ptype not in PRICE_TYPES:
            raise OrderError(f"pricetype must be one of {', '.join(PRICE_TYPES)}")
        if product not in PRODUCTS:
            raise OrderError(f"product must be one of {', '.join(PRODUCTS)}")
        qty, price, trigger = (
            _num(body, "quantity"),
            _num(body, "price"),
            _num(body, "trigger_price"),
        )
        if qty <= 0 or qty != int(qty):
            raise OrderError("quantity must be a positive whole number")
        if ptype in ("LIMIT", "SL") and price <= 0:
            raise OrderError(f"price is required for {ptype} orders")
        if ptype in ("SL", "SL-M") and trigger <= 0:
            raise OrderError(f"trigger_price is required for {ptype} orders")
        self._seq += 1
        day = dt.datetime.fromtimestamp(max(self.now_ms, 0) / 1000.0, IST).strftime("%y%m%d")
        oid = f"{day}{self._seq:08d}"
        self._orders[oid] = {
            "orderid": oid, "symbol": key[0], "exchange": key[1], "action": action,
            "quantity": int(qty), "price": price, "trigger_price": trigger, "pricetype": ptype,
            "product": product, "order_status": "trigger pending" if ptype in ("SL", "SL-M")
            else "open", "filled_quantity": 0, "average_price": 0.0,
            "timestamp": stamp(self.now_ms), "strategy": str(body.get("strategy") or ""),
            "tag": str(body.get("tag") or ""), "_limit": ptype == "LIMIT",
        }  # fmt: skip
        self._try_at_ltp(self._orders[oid])
        return oid

    def modify(self, body: dict[str, Any]) -> str:
        """Apply a ``modifyorder`` body (new quantity, price, trigger, pricetype).

        Raises:
            OrderError: unknown or final order, bad values.
        """
        o = self._live(str(body.get("orderid") or ""))
        ptype = str(body.get("pricetype") or o["pricetype"]).upper()
        qty = _num(body, "quantity") or o["quantity"]
        if ptype not in PRICE_TYPES or qty <= 0 or qty != int(qty):
            raise OrderError("invalid pricetype or quantity")
        o.update(quantity=int(qty), pricetype=ptype, price=_num(body, "price"))
        o.update(trigger_price=_num(body, "trigger_price"), _limit=ptype == "LIMIT")
        o["order_status"] = "trigger pending" if ptype in ("SL", "SL-M") else "open"
        self._try_at_ltp(o)
        return str(o["orderid"])

    def cancel(self, order_id: str) -> str:
        """Cancel an open order.

        Raises:
            OrderError: unknown or final order.
        """
        o = self._live(order_id)
        o["order_status"] = "cancelled"
        return order_id

    def _live(self, order_id: str) -> dict[str, Any]:
        o = self._orders.get(order_id)
        if o is None:
            raise OrderError(f"Order {order_id!r} not found")
        if o["order_status"] in FINAL:
            raise OrderError(f"Order {order_id} is already {o['order_status']}")
        return o

    # ------------------------------------------------------------------ market
    def on_event(self, inst: Instrument, ev: Event) -> None:
        """A quote of ``inst``: the clock and LTP move; a trade may fill resting orders."""
        key = (inst.symbol, inst.exchange)
        prev = self.ltp.get(key)
        self.now_ms = max(self.now_ms, ev.ts_ms)
        self.ltp[key] = ev.price
        if ev.trade_qty <= 0 and prev is not None:
            return
        for o in list(self._orders.values()):
            if (o["symbol"], o["exchange"]) == key and o["order_status"] not in FINAL:
                self._match(o, ev.price, ev.gap or prev is None)

    def _try_at_ltp(self, o: dict[str, Any]) -> None:
        ltp = self.ltp.get((o["symbol"], o["exchange"]))
        if ltp is None:
            return
        if o["pricetype"] == "MARKET":
            slip = ltp * self.slippage_bps / 10_000.0
            self._fill(o, ltp + slip if o["action"] == "BUY" else ltp - slip)
        else:
            self._match(o, ltp, True)

    def _match(self, o: dict[str, Any], p: float, gap: bool) -> None:
        buy = o["action"] == "BUY"
        if o["pricetype"] == "MARKET":
            self._try_at_ltp(o)
            return
        if o["order_status"] == "trigger pending":
            t = float(o["trigger_price"])
            if not ((buy and p >= t) or (not buy and p <= t)):
                return
            if o["pricetype"] == "SL-M":
                self._fill(o, p if gap else t)
                return
            o["order_status"], o["_limit"] = "open", True
            gap = True  # the stop-limit meets the market at this trade's price
        limit = float(o["price"])
        if (buy and p <= limit) or (not buy and p >= limit):
            self._fill(o, p if gap else limit)

    def _fill(self, o: dict[str, Any], price: float) -> None:
        qty = int(o["quantity"]) - int(o["filled_quantity"])
        price = round(price, 2)
        o["filled_quantity"] = int(o["quantity"])
        o["average_price"] = price
        o["order_status"] = "complete"
        self._fills.append(Fill(o["orderid"], o["action"], qty, price, self.now_ms))
        signed = qty if o["action"] == "BUY" else -qty
        self.cash -= signed * price
        pos = self._pos.setdefault((o["symbol"], o["exchange"], o["product"]), [0.0, 0.0])
        old, avg = pos
        new = old + signed
        if old == 0 or (old > 0) == (signed > 0):
            pos[1] = (old * avg + signed * price) / new if new else 0.0
        else:
            closed = min(abs(old), abs(signed))
            self._realized += closed * (price - avg) * (1 if old > 0 else -1)
            if new and (new > 0) != (old > 0):
                pos[1] = price
        pos[0] = new

    # ------------------------------------------------------------------ reads
    def orders(self, tag: str | None = None) -> list[dict[str, Any]]:
        """Copies of every order row (only those with ``tag`` when given), oldest first."""
        rows = [
            {k: v for k, v in o.items() if not k.startswith("_")} for o in self._orders.values()
        ]
        return [r for r in rows if tag is None or r["tag"] == tag]

    def order(self, order_id: str) -> dict[str, Any] | None:
        """A copy of one order row, or None."""
        return next((o for o in self.orders() if o["orderid"] == order_id), None)

    def fills(self) -> list[Fill]:
        """Every trade so far, oldest first."""
        return list(self._fills)

    def trades(self) -> list[dict[str, Any]]:
        """The ``tradebook`` rows (one per fill)."""
        by_id = self._orders
        return [
            {
                "action": f.action, "average_price": f.price, "exchange": by_id[f.order_id]["exchange"],
                "orderid": f.order_id, "product": by_id[f.order_id]["product"], "quantity": f.qty,
                "symbol": by_id[f.order_id]["symbol"], "timestamp": stamp(f.ts_ms),
                "trade_value": round(f.qty * f.price, 2),
            }
            for f in self._fills
        ]  # fmt: skip

    def positions(self) -> list[dict[str, Any]]:
        """The ``positionbook`` rows (every position touched today, flat ones included)."""
        return [
            {"symbol": s, "exchange": e, "product": p, "quantity": int(q),
             "average_price": f"{avg:.2f}", "ltp": self.ltp.get((s, e), 0.0),
             "pnl": round((self.ltp.get((s, e), avg) - avg) * q, 2)}
            for (s, e, p), (q, avg) in self._pos.items()
        ]  # fmt: skip

    def funds(self) -> dict[str, str]:
        """The ``funds`` data (strings with two decimals, as OpenAlgo's docs show)."""
        unreal = sum(
            (self.ltp.get((s, e), avg) - avg) * q for (s, e, _p), (q, avg) in self._pos.items()
        )
        return {
            "availablecash": f"{self.cash:.2f}",
            "collateral": "0.00",
            "m2mrealized": f"{self._realized:.2f}",
            "m2munrealized": f"{unreal:.2f}",
            "utiliseddebits": "0.00",
        }


def _num(body: dict[str, Any], name: str) -> float:
    try:
        return float(body.get(name) or 0)
    except (TypeError, ValueError):
        raise OrderError(f"{name} must be a number") from None
