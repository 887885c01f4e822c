"""The TWS socket protocol as the simulator speaks it (server version 178).

Framing (both directions after the handshake): a 4-byte big-endian length, then the
message: text fields, each terminated by NUL. The client opens with ``b"API\\0"`` and a
framed ``v<min>..<max>[ options]``; the server answers one framed message of two fields,
``<server version>`` and ``<connection time>``. Everything after is positional: the field
orders below are those ib_async 2.1.0 decodes (``ib_async/decoder.py``) and encodes
(``ib_async/client.py``) at server version 178, checked field by field against its
source and by the tests, which drive the real ib_async client against this simulator.

Message ids (incoming = client -> server): 1 reqMktData, 3 placeOrder, 4 cancelOrder,
5 reqOpenOrders, 6 reqAccountUpdates, 7 reqExecutions, 8 reqIds, 9 reqContractDetails,
20 reqHistoricalData, 25 cancelHistoricalData, 49 reqCurrentTime, 50 reqRealTimeBars,
51 cancelRealTimeBars, 61 reqPositions, 71 startApi, 76 reqAccountUpdatesMulti,
99 reqCompletedOrders. Outgoing: see the ``OUT`` constants.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The server version the simulator announces (ib_async 2.1.0's MaxClientVersion).
SERVER_VERSION = 178
#: The lowest client version the simulator accepts (ib_async's MinClientVersion).
MIN_CLIENT_VERSION = 157

#: The text of the end-of-data error 162 (a simulator convention; the ``ibkr`` feed ends on
#: it).
END_TEXT = "Historical Market Data Service error message:end of replay (simulator)"

# outgoing message ids (server -> client)
TICK_PRICE, ORDER_STATUS, ERR_MSG, OPEN_ORDER, ACCT_VALUE = 1, 3, 4, 5, 6
ACCT_UPDATE_TIME, NEXT_VALID_ID, CONTRACT_DATA, EXECUTION_DATA = 8, 9, 10, 11
MANAGED_ACCTS, HISTORICAL_DATA, CURRENT_TIME, REAL_TIME_BARS = 15, 17, 49, 50
CONTRACT_DATA_END, OPEN_ORDER_END, ACCT_DOWNLOAD_END, EXECUTION_DATA_END = 52, 53, 54, 55
COMMISSION_REPORT, POSITION_DATA, POSITION_END = 59, 61, 62
ACCOUNT_UPDATE_MULTI_END, HISTORICAL_DATA_UPDATE = 74, 90
COMPLETED_ORDER, COMPLETED_ORDERS_END = 101, 102


def frame(fields: Iterable[Any]) -> bytes:
    """One framed message of ``fields`` (None -> empty, bool -> 1/0, others ``str()``)."""
    parts = []
    for f in fields:
        if f is None:
            parts.append("")
        elif isinstance(f, bool):
            parts.append("1" if f else "0")
        else:
            parts.append(str(f))
    body = ("\0".join(parts) + "\0").encode()
    return struct.pack(">I", len(body)) + body


def split_frames(buf: bytearray) -> list[list[str]]:
    """Take every complete framed message off the front of ``buf`` (in place); each as its
    list of text fields (the trailing NUL's empty field dropped)."""
    out: list[list[str]] = []
    while len(buf) >= 4:
        n = struct.unpack(">I", bytes(buf[:4]))[0]
        if len(buf) < 4 + n:
            break
        body = bytes(buf[4 : 4 + n]).decode(errors="replace")
        del buf[: 4 + n]
        fields = body.split("\0")
        if fields and fields[-1] == "":
            fields.pop()
        out.append(fields)
    return out


def parse_versions(text: str) -> tuple[int, int]:
    """``"v157..178 +OPT"`` -> (157, 178).

    Raises:
        ValueError: not a version range.
    """
    head = text.split(" ", 1)[0]
    if not head.startswith("v") or ".." not in head:
        raise ValueError(f"bad version range {text!r}")
    lo, hi = head[1:].split("..", 1)
    return int(lo), int(hi)


@dataclass(frozen=True)
class ContractFields:
    """The 12 fields a client sends for a contract (``client.send``'s Contract format)."""

    con_id: int
    symbol: str
    sec_type: str
    last_trade: str
    strike: str
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    @classmethod
    def take(cls, fields: list[str], at: int) -> ContractFields:
        """The contract of ``fields[at:at + 12]``."""
        f = fields[at : at + 12]
        return cls(int(f[0] or 0), *f[1:12])


@dataclass(frozen=True)
class OrderRequest:
    """The fields of a ``placeOrder`` (id 3) the simulator reads.

    Attributes:
        order_id: the client's order id.
        contract: the contract sent.
        action: ``BUY`` / ``SELL``.
        quantity: total quantity (contracts / shares).
        order_type: ``MKT``, ``LMT``, ``STP`` (others refused with error 387).
        lmt_price, aux_price: limit price, stop price (None when unset).
        tif, oca_group, account, order_ref: as sent (``order_ref`` = the bot's tag).
        transmit: False = hold at TWS (the simulator refuses it).
        oca_type: 1-3, or 0 when unset.
    """

    order_id: int
    contract: ContractFields
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    oca_type: int


def _num(text: str) -> float | None:
    if text in ("", "1.7976931348623157e+308"):
        return None
    return float(text)


def parse_place_order(fields: list[str], server_version: int = SERVER_VERSION) -> OrderRequest:
    """Decode ``placeOrder``'s leading fields (ib_async ``client.placeOrder``): id, order id,
    contract (12), secIdType, secId, action, totalQuantity, orderType, lmtPrice, auxPrice,
    tif, ocaGroup, account, openClose, origin, orderRef, transmit, parentId, ... The OCA type
    sits after discretionaryAmt .. faPercentage (+ faProfile below 177), modelCode,
    shortSaleSlot, designatedLocation, exemptCode.

    Raises:
        ValueError / IndexError: a malformed message.
    """
    c = ContractFields.take(fields, 2)
    # index 34 is `hidden`; then "", discretionaryAmt, goodAfterTime, goodTillDate, faGroup,
    # faMethod, faPercentage (35-41), faProfile below version 177, modelCode, shortSaleSlot,
    # designatedLocation, exemptCode, then ocaType
    oca_at = 35 + 7 + (1 if server_version < 177 else 0) + 4
    oca_type = fields[oca_at] if len(fields) > oca_at and c.sec_type != "BAG" else ""
    return OrderRequest(
        order_id=int(fields[1]),
        contract=c,
        action=fields[16],
        quantity=float(fields[17] or 0),
        order_type=fields[18],
        lmt_price=_num(fields[19]),
        aux_price=_num(fields[20]),
        tif=fields[21],
        oca_group=fields[22],
        account=fields[23],
        order_ref=fields[26],
        transmit=fields[27] != "0",
        oca_type=int(oca_type or 0),
    )


def fmt_num(x: float) -> str:
    """A float as the client expects it (integers without a fraction)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))
