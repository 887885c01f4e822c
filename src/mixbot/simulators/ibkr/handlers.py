"""The simulator's request handlers: one function per incoming TWS message id, reading the
fields in the order ib_async 2.1.0's ``client.py`` writes them (server version 178).

Errors sent (codes and texts as in IB's "Message Codes" list, the simulator's subset):
200 no security definition, 162 historical-data pacing violation / end of replay,
321 a request the simulator does not support (bar size, what-to-show), 326 client id in
use, 354 market data not subscribed (``reqMktData``: the simulator serves real-time bars),
387 unsupported order type, 434 zero order size, 10147 cancel of an unknown order,
161 cancel of an order no longer cancellable, 202 order cancelled (after a cancelOrder).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from mixbot.simulators.ibkr import messages as M
from mixbot.simulators.ibkr import protocol as P
from mixbot.simulators.ibkr.exchange import order_from
from mixbot.simulators.ibkr.market import (
    Instrument,
    bar_date,
    duration_seconds,
    parse_end,
)

if TYPE_CHECKING:
    from mixbot.simulators.ibkr.server import Conn, Simulator

log = logging.getLogger(__name__)

#: IB's historical-data pacing (TWS API docs, "Historical Data Limitations",
#: https://interactivebrokers.github.io/tws-api/historical_limitations.html): no more than
#: 60 requests within any 10-minute period (wall seconds here). IB applies it to bars of
#: 30 s or less and keeps it as a soft limit above; the simulator applies it to all.
HIST_PACING = (60, 600.0)


def find_instrument(sim: Simulator, c: P.ContractFields) -> list[Instrument]:
    """The instruments a request's contract names: by conId when set, else by symbol (and
    secType / currency when given; exchange SMART or the instrument's own)."""
    out = []
    for inst in sim.instruments:
        k = inst.contract
        if c.con_id:
            if c.con_id == k.con_id:
                out.append(inst)
            continue
        if c.symbol.upper() != k.symbol:
            continue
        if c.sec_type and c.sec_type != k.sec_type:
            continue
        if c.currency and c.currency != k.currency:
            continue
        if c.exchange and c.exchange not in ("SMART", k.exchange):
            continue
        if c.last_trade and not k.last_trade.startswith(c.last_trade):
            continue
        out.append(inst)
    return out


def handle(sim: Simulator, conn: Conn, f: list[str]) -> bool:
    """Handle one message; False closes the connection."""
    try:
        msg_id = int(f[0])
    except (ValueError, IndexError):
        return True
    fn = HANDLERS.get(msg_id)
    if fn is None:
        log.info("IBKR simulator: message %s not handled (%s)", msg_id, f[:4])
        return True
    try:
        return fn(sim, conn, f) is not False
    except (ValueError, IndexError) as exc:
        log.warning("IBKR simulator: malformed message %s: %s", msg_id, exc)
        conn.send(M.error(-1, 321, f"Error validating request: {exc}"))
        return True


def start_api(sim: Simulator, conn: Conn, f: list[str]) -> bool:
    """71: version, clientId, optionalCapabilities."""
    cid = int(f[2])
    if any(c.client_id == cid for c in sim.conns if c is not conn):
        conn.send(
            M.error(-1, 326, "Unable to connect as the client id is already in use. "
                    "Retry with a unique client id.")
        )  # fmt: skip
        return False
    conn.client_id = cid
    conn.send(M.next_valid_id(sim.max_order_id.get(cid, 0) + 1))
    conn.send(M.managed_accounts(sim.exchange.account))
    for code, farm in ((2104, "Market data farm connection is OK:simfarm"),
                       (2106, "HMDS data farm connection is OK:simhmds"),
                       (2158, "Sec-def data farm connection is OK:simsecdef")):  # fmt: skip
        conn.send(M.error(-1, code, farm))
    return True


def contract_details(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """9: version 8, reqId, contract (12), includeExpired, secIdType, secId, issuerId."""
    req_id = int(f[2])
    found = find_instrument(sim, P.ContractFields.take(f, 3))
    if not found:
        conn.send(M.error(req_id, 200, "No security definition has been found for the request"))
        return
    for inst in found:
        conn.send(M.contract_data(req_id, inst.contract))
    conn.send(M.end(P.CONTRACT_DATA_END, req_id))


def historical_data(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """20: reqId, contract (12), includeExpired, endDateTime, barSize, duration, useRTH,
    whatToShow, formatDate, keepUpToDate, chartOptions. Serves ``1 min`` TRADES bars that
    END at or before the simulated now (never the future)."""
    req_id = int(f[1])
    c = P.ContractFields.take(f, 2)
    end_text, bar_size, duration, what = f[15], f[16], f[17], f[19]
    fmt, keep = int(f[20] or 1), f[21] == "1"
    now = time.monotonic()
    conn.hist_times = [t for t in conn.hist_times if now - t < HIST_PACING[1]]
    if len(conn.hist_times) >= HIST_PACING[0]:
        conn.send(M.error(req_id, 162, "Historical Market Data Service error message:"
                          "Historical data request pacing violation"))  # fmt: skip
        return
    conn.hist_times.append(now)
    found = find_instrument(sim, c)
    if len(found) != 1:
        conn.send(M.error(req_id, 200, "No security definition has been found for the request"))
        return
    if bar_size.strip() != "1 min" or what not in ("TRADES", ""):
        conn.send(M.error(req_id, 321, f"Error validating request: the simulator serves "
                          f"'1 min' TRADES bars only, not {bar_size!r} {what!r}"))  # fmt: skip
        return
    inst = found[0]
    end_s = min(parse_end(end_text, sim.now_s), sim.now_s)
    span = duration_seconds(duration)
    hi = inst.upto(end_s)
    if duration.strip().endswith("D"):  # N trading days back from the end
        days = int(duration.split()[0])
        seen: list[int] = []
        lo = hi
        while lo > 0:
            d = int(inst.end_s[lo - 1]) // 86_400
            if d not in seen:
                if len(seen) == days:
                    break
                seen.append(d)
            lo -= 1
    else:
        lo = inst.upto(end_s - span)
    tz = inst.contract.time_zone
    bars = [
        (bar_date(e - 60, fmt, tz), o, h, low, cl, v)
        for e, o, h, low, cl, v in (inst.bar(i) for i in range(lo, hi))
    ]
    conn.send(
        M.historical_data(req_id, bar_date(end_s - span, 1, tz), bar_date(end_s, 1, tz), bars)
    )
    if keep:
        conn.kud_subs[req_id] = inst.contract.con_id
        conn.acked = True


def realtime_bars(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """50: version 3, reqId, contract (12), barSize, whatToShow, useRTH, options."""
    req_id = int(f[2])
    found = find_instrument(sim, P.ContractFields.take(f, 3))
    if len(found) != 1:
        conn.send(M.error(req_id, 200, "No security definition has been found for the request"))
        return
    if sim.finished:
        conn.send(M.error(req_id, 162, P.END_TEXT))
        return
    conn.rt_subs[req_id] = found[0].contract.con_id
    conn.acked = True


def cancel_sub(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """51 cancelRealTimeBars / 25 cancelHistoricalData: version, reqId."""
    req_id = int(f[2])
    conn.rt_subs.pop(req_id, None)
    conn.kud_subs.pop(req_id, None)


def current_time(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """49: the simulated now (epoch s); also the lockstep acknowledgement."""
    conn.send(M.current_time(sim.now_s))
    conn.acked = True


def mkt_data(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """1: the simulator has no tick data (real-time bars and history only)."""
    conn.send(M.error(int(f[2]), 354, "Requested market data is not subscribed "
                      "(the simulator serves real-time bars and history)"))  # fmt: skip


def place_order(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """3: see :func:`~.protocol.parse_place_order`. An existing working order id of this
    client is a modification (quantity, prices)."""
    req = P.parse_place_order(f)
    ex = sim.exchange
    found = find_instrument(sim, req.contract)
    if len(found) != 1:
        conn.send(
            M.error(req.order_id, 200, "No security definition has been found for the request")
        )
        return
    if req.order_type not in ("MKT", "LMT", "STP"):
        conn.send(M.error(req.order_id, 387, f"Unsupported order type {req.order_type}"))
        return
    if req.quantity <= 0:
        conn.send(M.error(req.order_id, 434, "The order size cannot be zero"))
        return
    sim.max_order_id[conn.client_id] = max(sim.max_order_id.get(conn.client_id, 0), req.order_id)
    old = ex.find(conn.client_id, req.order_id)
    if old is not None:
        if old.final:
            conn.send(M.error(req.order_id, 103, "Duplicate order id"))
            return
        old.quantity, old.lmt_price, old.aux_price = req.quantity, req.lmt_price, req.aux_price
        ex._emit(old, None)
        return
    req = _with_con_id(req, found[0].contract.con_id)
    ex.place(order_from(req, ex.new_perm_id(), conn.client_id, ex.account))


def _with_con_id(req: P.OrderRequest, con_id: int) -> P.OrderRequest:
    from dataclasses import replace

    return replace(req, contract=replace(req.contract, con_id=con_id))


def cancel_order(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """4: version, orderId, manualOrderCancelTime."""
    oid = int(f[2])
    o = sim.exchange.find(conn.client_id, oid)
    if o is None:
        conn.send(M.error(oid, 10147, f"OrderId {oid} that needs to be cancelled is not found."))
    elif not sim.exchange.cancel(o):
        conn.send(M.error(oid, 161, f"Cancel attempted when order is not in a cancellable "
                          f"state.  Order permId ={o.perm_id}"))  # fmt: skip
    else:
        conn.send(M.error(oid, 202, "Order Canceled - reason:"))


def global_cancel(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """58: version. Cancels every working order of the account, whoever placed it."""
    for o in sorted(sim.exchange.orders.values(), key=lambda x: x.perm_id):
        if sim.exchange.cancel(o):
            for c in sim.conns:
                if c.client_id == o.client_id:
                    c.send(M.error(o.order_id, 202, "Order Canceled - reason:"))


def open_orders(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """5 reqOpenOrders (this client's) / 16 reqAllOpenOrders: openOrder + orderStatus of
    every working order, then openOrderEnd."""
    every = int(f[0]) == 16
    for o in sorted(sim.exchange.orders.values(), key=lambda x: x.perm_id):
        if o.final or not (every or o.client_id == conn.client_id):
            continue
        c = sim.exchange.contracts[o.con_id]
        conn.send(M.open_order(o, c))
        conn.send(M.order_status(o.order_id, o.status, o.filled, o.remaining, o.avg_price,
                                 o.perm_id, 0.0, o.client_id))  # fmt: skip
    conn.send(M.end(P.OPEN_ORDER_END))


def completed_orders(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """99: apiOnly. Every final order of the account, then completedOrdersEnd."""
    for o in sorted(sim.exchange.orders.values(), key=lambda x: x.perm_id):
        if o.final:
            conn.send(M.completed_order(o, sim.exchange.contracts[o.con_id]))
    conn.send(M.end(P.COMPLETED_ORDERS_END))


def executions(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """7: version 3, reqId, filter clientId (0 = any), account, time, symbol, secType,
    exchange, side. Every execution (with its commission report), then execDetailsEnd."""
    req_id, cid = int(f[2]), int(f[3] or 0)
    for o in sorted(sim.exchange.orders.values(), key=lambda x: x.perm_id):
        if cid and o.client_id != cid:
            continue
        c = sim.exchange.contracts[o.con_id]
        for x in o.fills:
            conn.send(M.exec_details(req_id, o, c, x))
            conn.send(M.commission_report(x, c.currency))
    conn.send(M.end(P.EXECUTION_DATA_END, req_id))


def positions(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """61: every position of the account, then positionEnd (and later changes)."""
    conn.positions = True
    for con_id, (qty, cost) in sim.exchange.positions.items():
        conn.send(M.position(sim.exchange.account, sim.exchange.contracts[con_id], qty, cost))
    conn.send(M.end(P.POSITION_END))


def account_updates(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """6: version 2, subscribe, account. Values now (and after each fill / minute while
    subscribed), update time, accountDownloadEnd."""
    conn.account_updates = f[2] == "1"
    if conn.account_updates:
        sim._send_account(conn)
        conn.send(M.end(P.ACCT_DOWNLOAD_END, sim.exchange.account))


def account_updates_multi(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """76: version, reqId, account, modelCode, ledgerAndNLV -> accountUpdateMultiEnd."""
    conn.send(M.end(P.ACCOUNT_UPDATE_MULTI_END, int(f[2])))


def req_ids(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """8: version, numIds -> nextValidId."""
    conn.send(M.next_valid_id(sim.max_order_id.get(conn.client_id, 0) + 1))


def ignore(sim: Simulator, conn: Conn, f: list[str]) -> None:
    """Requests the simulator accepts silently (reqAutoOpenOrders, reqMarketDataType ...)."""


HANDLERS: dict[int, Any] = {
    1: mkt_data,
    2: ignore,
    3: place_order,
    4: cancel_order,
    5: open_orders,
    6: account_updates,
    7: executions,
    8: req_ids,
    9: contract_details,
    15: ignore,
    16: open_orders,
    20: historical_data,
    25: cancel_sub,
    49: current_time,
    50: realtime_bars,
    51: cancel_sub,
    58: global_cancel,
    59: ignore,
    61: positions,
    64: ignore,
    71: start_api,
    76: account_updates_multi,
    99: completed_orders,
}
