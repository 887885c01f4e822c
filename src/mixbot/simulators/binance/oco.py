"""OCO order lists of the Binance simulator: ``POST /api/v3/orderList/oco`` (Binance docs,
"Spot API > Trading endpoints > New Order list - OCO"): one ``quantity`` for two legs, the
``above`` leg (here LIMIT_MAKER at ``abovePrice``) and the ``below`` leg (STOP_LOSS_LIMIT at
``belowStopPrice`` / ``belowPrice``, ``belowTimeInForce``); client ids ``listClientOrderId``,
``aboveClientOrderId``, ``belowClientOrderId``. SELL side only (a long's protection): the
prices must satisfy ``abovePrice > last price > belowStopPrice`` (else -2010, message after
Binance's "The relationship of the prices for the orders is not correct."). The base asset is
locked ONCE for both legs. Events: an ``executionReport`` NEW per leg (``g`` = orderListId)
and a ``listStatus`` EXEC_STARTED; when a leg fills the other is EXPIRED and the list ends
(``listStatus`` ALL_DONE; :mod:`~mixbot.simulators.binance.exchange`).
"""

from __future__ import annotations

from typing import Any

from mixbot.simulators.binance.exchange import Account, ApiError, SimOrder, order_json


def new_oco(acct: Account, p: dict[str, str], now_ms: int) -> dict[str, Any]:
    """Place an OCO list (params as strings); returns Binance's answer.

    Raises:
        ApiError: bad parameters or types (-1102 / -1116), filter failures (-1013), wrong
            price relationship, duplicate client ids or insufficient balance (-2010).
    """
    r = acct.rules
    with acct.lock:
        if p.get("symbol") != r.symbol:
            raise ApiError(400, -1121, "Invalid symbol.")
        if p.get("side") != "SELL":
            raise ApiError(
                400, -1106, "Parameter 'side' sent when not required."
            )  # ours: SELL only
        if p.get("aboveType") != "LIMIT_MAKER" or p.get("belowType") != "STOP_LOSS_LIMIT":
            raise ApiError(400, -1116, "Invalid orderType.")
        try:
            qty = float(p["quantity"])
            above = float(p["abovePrice"])
            stop, below = float(p["belowStopPrice"]), float(p["belowPrice"])
        except (KeyError, ValueError):
            raise ApiError(
                400, -1102, "Mandatory parameter was not sent or was malformed."
            ) from None
        acct._check_filters("LIMIT", qty, above, 0.0)
        acct._check_filters("STOP_LOSS_LIMIT", qty, below, stop)
        if not above > acct.last_price > stop:
            raise ApiError(
                400, -2010, "The relationship of the prices for the orders is not correct."
            )
        ids = [p.get("belowClientOrderId") or f"sim{acct._next_id}",
               p.get("aboveClientOrderId") or f"sim{acct._next_id + 1}"]  # fmt: skip
        live = {o.client_id for o in acct.open_orders()}
        if ids[0] == ids[1] or live & set(ids):
            raise ApiError(400, -2010, "Duplicate order sent.")
        if acct.reject_next > 0:
            acct.reject_next -= 1
            raise ApiError(400, -2010, "Order was rejected (simulated fault).")
        if acct.free[r.base] + 1e-9 < qty:
            raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
        list_id = acct._next_list
        acct._next_list += 1
        tif = p.get("belowTimeInForce", "GTC")
        legs = [SimOrder(acct._next_id, ids[0], "SELL", "STOP_LOSS_LIMIT", qty, below, stop, tif,
                         now_ms, update_ms=now_ms, list_id=list_id),
                SimOrder(acct._next_id + 1, ids[1], "SELL", "LIMIT_MAKER", qty, above, 0.0, "GTC",
                         now_ms, update_ms=now_ms, list_id=list_id)]  # fmt: skip
        acct._next_id += 2
        cid = p.get("listClientOrderId") or f"simlist{list_id}"
        acct.lists[list_id] = (cid, legs)
        acct.free[r.base] -= qty
        acct.locked[r.base] += qty
        acct.list_locks[list_id] = qty
        for o in legs:
            acct.orders[o.order_id] = o
            acct._report(o, "NEW", now_ms)
        acct.emit(acct.list_event(list_id, now_ms, done=False))
        return {
            "orderListId": list_id, "contingencyType": "OCO", "listStatusType": "EXEC_STARTED",
            "listOrderStatus": "EXECUTING", "listClientOrderId": cid, "transactionTime": now_ms,
            "symbol": r.symbol,
            "orders": [{"symbol": r.symbol, "orderId": o.order_id, "clientOrderId": o.client_id}
                       for o in legs],
            "orderReports": [order_json(o, r.symbol) for o in legs],
        }  # fmt: skip
