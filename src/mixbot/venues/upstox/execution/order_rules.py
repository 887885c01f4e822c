"""Order rules of the spec: allowed sides / types / products / validities, tick rounding,
the entry LIMIT price, the exit side, and the stuck-order policy.

Split out of :mod:`mixbot.venues.upstox.execution.orders`, which re-exports every name.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from decimal import Decimal

from mixbot.orders.ticks import round_to_tick as _round_to_tick
from mixbot.venues.upstox.execution.order_status import BT_FINAL

SIDES = ("BUY", "SELL")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("I", "D")
VALIDITIES = ("DAY", "IOC")

#: The spec's order types: entries are LIMIT (LTP +/- a buffer), exits are MARKET.
ENTRY_ORDER_TYPE = "LIMIT"
EXIT_ORDER_TYPE = "MARKET"


def round_to_tick(price: float, tick: float, direction: str = "nearest") -> float:
    """``price`` on the ``tick`` grid: ``"up"``, ``"down"`` or ``"nearest"`` (half-up), exact
    decimals: :func:`mixbot.orders.ticks.round_to_tick`. Default "nearest": an order price
    handed to Upstox is already meant to be on the grid (Upstox/NSE reject a price that is not
    a tick multiple), only float noise is removed."""
    return _round_to_tick(price, tick, direction)  # type: ignore[arg-type]  # checked inside


def entry_limit_price(ltp: float, side: str, buffer_pct: float, tick: float) -> float:
    """The LIMIT price of an entry (spec: ``ENTRY_LIMIT_PRICE_BUFFER_PCT``).

    BUY: ``ltp * (1 + buffer_pct/100)`` rounded UP to the tick; SELL: ``ltp * (1 -
    buffer_pct/100)`` rounded DOWN (rounding always against us, to favour the fill).
    ``buffer_pct`` is a percent number (0.05 = 0.05 %).

    Raises:
        ValueError: ltp/tick not > 0, buffer_pct < 0, unknown side, or a SELL price below a tick.
    """
    side = side.upper()
    if side not in SIDES:
        raise ValueError(f"side must be BUY or SELL, not {side!r}")
    if not (ltp > 0 and math.isfinite(ltp)):
        raise ValueError(f"ltp must be > 0, not {ltp}")
    if buffer_pct < 0:
        raise ValueError(f"buffer_pct must be >= 0, not {buffer_pct}")
    factor = Decimal(1) + (Decimal(str(buffer_pct)) / 100) * (1 if side == "BUY" else -1)
    raw = float(Decimal(str(ltp)) * factor)
    price = round_to_tick(raw, tick, "up" if side == "BUY" else "down")
    if price < tick:
        raise ValueError(f"SELL limit price {raw} is below one tick ({tick})")
    return price


def exit_side(position_qty: float) -> str:
    """The side that closes a net position: SELL a long, BUY a short."""
    if position_qty == 0:
        raise ValueError("a flat position has no exit side")
    return "SELL" if position_qty > 0 else "BUY"


class StuckAction(enum.Enum):
    """What to do with a pending order (see :class:`StuckOrderPolicy`)."""

    WAIT = "wait"
    CANCEL = "cancel"
    CANCEL_AND_REPLACE_MARKET = "cancel_and_replace_market"


@dataclass(frozen=True)
class StuckDecision:
    """A :class:`StuckOrderPolicy` decision; ``replace_qty``: quantity of the MARKET
    replacement (the unfilled rest) for ``CANCEL_AND_REPLACE_MARKET``, else 0."""

    action: StuckAction
    reason: str
    replace_qty: int = 0


@dataclass(frozen=True)
class StuckOrderPolicy:
    """The spec's stuck-order rules.

    * an EXIT pending longer than ``exit_timeout_s`` -> cancel it and send the unfilled rest
      again at MARKET (the position must be closed);
    * an ENTRY pending longer than ``entry_timeout_s`` -> cancel it (a partial fill is kept;
      the missed entry is not chased).

    "Pending" = Backtrader status Submitted / Accepted / Partial (not final).
    """

    exit_timeout_s: float
    entry_timeout_s: float

    def __post_init__(self) -> None:
        if self.exit_timeout_s <= 0 or self.entry_timeout_s <= 0:
            raise ValueError("stuck-order timeouts must be > 0 seconds")

    def decide(
        self,
        *,
        role: str,
        status: str,
        age_s: float,
        qty: float = 0,
        filled_qty: float = 0,
    ) -> StuckDecision:
        """Decide for one order.

        Args:
            role: ``"entry"`` or ``"exit"`` (a stop-loss / take-profit / square-off is an exit).
            status: the order's Backtrader status (see :func:`bt_status`).
            age_s: seconds since the order was sent.
            qty, filled_qty: ordered and filled quantities (for the replacement size).
        """
        if role not in ("entry", "exit"):
            raise ValueError(f"role must be entry or exit, not {role!r}")
        if status in BT_FINAL:
            return StuckDecision(StuckAction.WAIT, f"order is {status}: nothing to do")
        timeout = self.exit_timeout_s if role == "exit" else self.entry_timeout_s
        if age_s <= timeout:
            return StuckDecision(StuckAction.WAIT, f"{role} pending {age_s:.0f}s <= {timeout:.0f}s")
        if role == "exit":
            rest = max(0, int(round(qty - filled_qty)))
            return StuckDecision(
                StuckAction.CANCEL_AND_REPLACE_MARKET,
                f"exit pending {age_s:.0f}s > {timeout:.0f}s: cancel, re-send {rest} at MARKET",
                replace_qty=rest,
            )
        return StuckDecision(
            StuckAction.CANCEL, f"entry pending {age_s:.0f}s > {timeout:.0f}s: cancel"
        )
