"""Server -> client messages of the simulator, field by field as ib_async 2.1.0 decodes them
at server version 178 (``ib_async/decoder.py``; the line of each layout is named in its
function). Each function returns the framed bytes of one message.

Prices in the contract's currency; quantities in contracts/shares; times: epoch seconds
(UTC) or ``"YYYYmmdd HH:MM:SS UTC"`` strings (ib_async ``parseIBDatetime``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mixbot.simulators.ibkr import protocol as P
from mixbot.simulators.ibkr.protocol import fmt_num, frame


@dataclass(frozen=True)
class SimContract:
    """One instrument of the simulator (what ``reqContractDetails`` answers)."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    multiplier: str
    last_trade: str
    min_tick: float
    time_zone: str
    long_name: str

    def short(self) -> list[Any]:
        """The 11 contract fields of openOrder / execDetails / position (``conId`` ..
        ``tradingClass``, no primary exchange)."""
        return [
            self.con_id, self.symbol, self.sec_type, self.last_trade, "0", "",
            self.multiplier, self.exchange, self.currency, self.symbol, self.symbol,
        ]  # fmt: skip


def next_valid_id(order_id: int) -> bytes:
    return frame([P.NEXT_VALID_ID, 1, order_id])


def managed_accounts(account: str) -> bytes:
    return frame([P.MANAGED_ACCTS, 1, account])


def error(req_id: int, code: int, text: str) -> bytes:
    """``errorMsg``: version, reqId (-1: not a request), code, text, advanced reject JSON."""
    return frame([P.ERR_MSG, 2, req_id, code, text, ""])


def current_time(epoch_s: int) -> bytes:
    return frame([P.CURRENT_TIME, 1, epoch_s])


def end(msg_id: int, *args: Any) -> bytes:
    """The end markers: openOrderEnd(53) and positionEnd(62) carry a version only,
    contractDetailsEnd(52) / execDetailsEnd(55) / accountUpdateMultiEnd(74) a request id,
    accountDownloadEnd(54) the account; completedOrdersEnd(102) nothing."""
    if msg_id == P.COMPLETED_ORDERS_END:
        return frame([msg_id])
    return frame([msg_id, 1, *args])


def contract_data(req_id: int, c: SimContract) -> bytes:
    """``contractDetails`` (decoder.py ``contractDetails``; no version field from 164)."""
    return frame(
        [
            P.CONTRACT_DATA, req_id, c.symbol, c.sec_type, c.last_trade, "0", "",
            c.exchange, c.currency, c.symbol, c.symbol, c.symbol, c.con_id, fmt_num(c.min_tick),
            c.multiplier, "LMT,MKT,STP", c.exchange, 1, 0, c.long_name, c.primary_exchange,
            c.last_trade[:6], "", "", "", c.time_zone, "", "", "", "", 0,
            "", "", "", "", c.last_trade, "COMMON" if c.sec_type == "STK" else "",
            "1", "1", "1",
        ]
    )  # fmt: skip


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_price: float,
    perm_id: int,
    last_price: float,
    client_id: int,
) -> bytes:
    """``orderStatus`` (no version): id, status, filled, remaining, avgFillPrice, permId,
    parentId, lastFillPrice, clientId, whyHeld, mktCapPrice."""
    return frame(
        [
            P.ORDER_STATUS, order_id, status, fmt_num(filled), fmt_num(remaining),
            fmt_num(avg_price), perm_id, 0, fmt_num(last_price), client_id, "", 0,
        ]
    )  # fmt: skip


def _price(x: float | None) -> str:
    return "" if x is None else fmt_num(x)


def open_order(o: Any, c: SimContract) -> bytes:
    """``openOrder`` (decoder.py ``openOrder`` at version 178: no faProfile; a version-170+
    tail). ``o`` is a :class:`~mixbot.simulators.ibkr.exchange.SimOrder`."""
    f: list[Any] = [P.OPEN_ORDER, o.order_id, *c.short()]
    f += [o.action, fmt_num(o.quantity), o.order_type, _price(o.lmt_price), _price(o.aux_price)]
    f += [o.tif, o.oca_group, o.account, "", 0, o.order_ref, o.client_id, o.perm_id]
    f += [0, 0, 0, "", "", "", "", ""]  # outsideRth .. faPercentage
    f += ["", "", "", "", "", 0, "", "", 0, "", "", "", "", ""]  # modelCode .. stockRangeUpper
    f += ["", 0, 0, 0, "", o.oca_type or "", 0, 0, "", 0, 0, "", "", "", ""]
    f += [0, "", "", "", "", "", ""]  # continuousUpdate .. comboLegsDescrip
    f += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
    f += ["", "", ""]  # scale init/subs level size, price increment
    f += [""]  # hedgeType
    f += [0, "", "", 0, 0]  # optOutSmartRouting, clearing account/intent, notHeld, no dnc
    f += [""]  # algoStrategy
    f += [0, 0, o.status, "", "", "", "", "", "", "", "", ""]  # solicited, whatIf, state
    f += ["", "", "", "", "", 0, 0]  # commission .. warningText, randomize size/price
    f += [0]  # conditions
    f += ["", "", "", "", "", "", "", 0, "", "", "", "", 0, 0, "", 0]  # adjusted .. priceMgmt
    f += ["", 0, 0]  # duration, postToAts, autoCancelParent
    f += ["", "", "", "", ""]  # minTradeQty .. midOffsetAtHalf
    return frame(f)


def completed_order(o: Any, c: SimContract) -> bytes:
    """``completedOrder`` (decoder.py ``completedOrder``; no order id, no client id)."""
    f: list[Any] = [P.COMPLETED_ORDER, *c.short()]
    f += [o.action, fmt_num(o.quantity), o.order_type, _price(o.lmt_price), _price(o.aux_price)]
    f += [o.tif, o.oca_group, o.account, "", 0, o.order_ref, o.perm_id, 0, 0, "", "", "", "", ""]
    f += ["", "", "", "", "", 0, "", "", "", "", "", "", "", "", 0, 0, "", o.oca_type or ""]
    f += [0, "", "", "", ""]  # triggerMethod, volatility, type, dn order type, dn aux price
    f += [0, "", "", "", ""]  # continuousUpdate .. comboLegsDescrip
    f += [0, 0, 0, "", "", "", ""]  # legs, order legs, params, scale x3, hedgeType
    f += ["", "", 0, 0, ""]  # clearing account/intent, notHeld, no dnc, algoStrategy
    f += [0, o.status, 0, 0, 0]  # solicited, status, randomize x2, conditions
    f += ["", "", "", 0, 0, "", fmt_num(o.filled), 0, 0, "", 0, 0, 0]
    f += [o.completed_time, o.completed_status]
    f += ["", "", "", "", ""]
    return frame(f)


def exec_details(req_id: int, o: Any, c: SimContract, x: Any) -> bytes:
    """``execDetails`` (decoder.py ``execDetails``; version 178 adds pendingPriceRevision).
    ``x`` is a :class:`~mixbot.simulators.ibkr.exchange.SimFill`."""
    return frame(
        [
            P.EXECUTION_DATA, req_id, o.order_id, *c.short(), x.exec_id, x.time_text,
            o.account, c.exchange, "BOT" if o.action == "BUY" else "SLD", fmt_num(x.shares),
            fmt_num(x.price), o.perm_id, o.client_id, 0, fmt_num(x.cum_qty),
            fmt_num(x.avg_price), o.order_ref, "", "", "", 1, 0,
        ]
    )  # fmt: skip


def commission_report(x: Any, currency: str) -> bytes:
    """``commissionReport``: version, execId, commission, currency, realizedPNL, yield,
    yieldRedemptionDate (unset: empty)."""
    return frame([P.COMMISSION_REPORT, 1, x.exec_id, fmt_num(x.commission), currency, "", "", ""])


def position(account: str, c: SimContract, qty: float, avg_cost: float) -> bytes:
    return frame([P.POSITION_DATA, 3, account, *c.short(), fmt_num(qty), fmt_num(avg_cost)])


def account_value(key: str, value: str, currency: str, account: str) -> bytes:
    return frame([P.ACCT_VALUE, 2, key, value, currency, account])


def account_time(hhmm: str) -> bytes:
    return frame([P.ACCT_UPDATE_TIME, 1, hhmm])


def historical_data(req_id: int, start: str, end_: str, bars: list[tuple[Any, ...]]) -> bytes:
    """``historicalData`` (no version): reqId, start, end, count, then per bar: date, open,
    high, low, close, volume, WAP, bar count."""
    f: list[Any] = [P.HISTORICAL_DATA, req_id, start, end_, len(bars)]
    for date, o, h, lo, c, v in bars:
        f += [date, fmt_num(o), fmt_num(h), fmt_num(lo), fmt_num(c), fmt_num(v), fmt_num(c), 1]
    return frame(f)


def historical_update(req_id: int, bar: tuple[Any, ...]) -> bytes:
    """``historicalDataUpdate``: reqId, barCount, date, open, CLOSE, HIGH, LOW, WAP, volume."""
    date, o, h, lo, c, v = bar
    return frame(
        [P.HISTORICAL_DATA_UPDATE, req_id, 1, date, fmt_num(o), fmt_num(c), fmt_num(h),
         fmt_num(lo), fmt_num(c), fmt_num(v)]
    )  # fmt: skip


def realtime_bar(
    req_id: int, start_s: int, o: float, h: float, lo: float, c: float, v: float
) -> bytes:
    """``realtimeBar``: version, reqId, bar START (epoch s), open, high, low, close, volume,
    WAP, count."""
    return frame(
        [P.REAL_TIME_BARS, 3, req_id, start_s, fmt_num(o), fmt_num(h), fmt_num(lo),
         fmt_num(c), fmt_num(v), fmt_num(c), 1]
    )  # fmt: skip
