"""Upstox order statuses mapped to Backtrader status names (tables and helpers).

Split out of :mod:`mixbot.venues.upstox.execution.orders`, which re-exports every name.

Order statuses: Upstox -> Backtrader
------------------------------------

Upstox statuses come from its "Order status" appendix; a partly filled live order keeps
``open`` with ``filled_quantity > 0`` (-> ``Partial``).

======================================  ============  ====================================
Upstox ``status``                       Backtrader    note
======================================  ============  ====================================
put order req received                  Submitted     received by Upstox's OMS
validation pending                      Submitted     risk checks
open pending                            Submitted     sent to the exchange
after market order req received         Accepted      AMO parked until the open
modify after market order req received  Accepted
trigger pending                         Accepted      SL / SL-M waiting for the trigger
open                                    Accepted      Partial when filled_quantity > 0
modify validation pending               Accepted      (Partial when filled_quantity > 0)
modify pending                          Accepted      (Partial when filled_quantity > 0)
modified                                Accepted      (Partial when filled_quantity > 0)
not modified                            Accepted      modification refused, order alive
cancel pending                          Accepted      still live until the exchange agrees
not cancelled                           Accepted      cancel refused, order alive
complete                                Completed
cancelled                               Canceled      a partial fill stays in filled_quantity
cancelled after market order            Canceled
rejected                                Rejected
(anything else)                         Submitted     unknown: treated as live, logged
======================================  ============  ====================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

#: Upstox order status (lower case) -> Backtrader status name (see the module table).
UPSTOX_TO_BT: dict[str, str] = {
    "put order req received": "Submitted",
    "validation pending": "Submitted",
    "open pending": "Submitted",
    "after market order req received": "Accepted",
    "modify after market order req received": "Accepted",
    "trigger pending": "Accepted",
    "open": "Accepted",
    "modify validation pending": "Accepted",
    "modify pending": "Accepted",
    "modified": "Accepted",
    "not modified": "Accepted",
    "cancel pending": "Accepted",
    "not cancelled": "Accepted",
    "complete": "Completed",
    "cancelled": "Canceled",
    "cancelled after market order": "Canceled",
    "rejected": "Rejected",
}

#: Backtrader statuses after which an order can change no more.
BT_FINAL = ("Completed", "Canceled", "Rejected", "Expired", "Margin")


def bt_status(upstox_status: str | None, filled_quantity: float = 0) -> str:
    """The Backtrader status name of an Upstox order status (see the module table).

    A live order (``Accepted``) with ``filled_quantity > 0`` is ``Partial``; an unknown status
    is logged and treated as live (``Submitted``), never as final.
    """
    key = " ".join(str(upstox_status or "").lower().split())
    status = UPSTOX_TO_BT.get(key)
    if status is None:
        log.warning("unknown Upstox order status %r: treated as Submitted", upstox_status)
        status = "Submitted"
    if status == "Accepted" and (filled_quantity or 0) > 0:
        return "Partial"
    return status


def order_bt_status(order: Mapping[str, Any]) -> str:
    """:func:`bt_status` of an Upstox order dict (``status``, ``filled_quantity``)."""
    return bt_status(order.get("status"), float(order.get("filled_quantity") or 0))


def is_open(order: Mapping[str, Any]) -> bool:
    """True when an Upstox order dict is still live (may fill or be cancelled)."""
    return order_bt_status(order) not in BT_FINAL
