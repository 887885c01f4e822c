"""One tick rounding for every price mixbot sends or fills: exact decimals, explicit direction.

Exchanges accept only prices that are whole multiples of the instrument's tick (NSE/Upstox
reject an order whose price is not a multiple of the tick size: 0.05 INR for NSE equities and
BANKNIFTY futures). Every caller states which way it rounds and why:

- ``"up"`` / ``"down"``: against the trader where a price is a cost (a slipped buy fill rounds
  up, a slipped sell fill down; a buy LIMIT entry up, a sell LIMIT down, to favour the fill),
  or away from the entry for a protective order (stop-loss below a long rounds down,
  take-profit above it up, so neither is tighter than the configured percentage).
- ``"nearest"``: half-up to the closest tick (a half tick goes UP: 259.825 at 0.05 -> 259.85),
  where the price is already meant to be on the grid and only float noise is removed (an
  order's price handed to the venue).

Float noise never costs a tick: the price is taken to 9 decimals before rounding
(``0.1 + 0.2`` rounded up at 0.05 is 0.3, not 0.35).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

#: The rounding directions: "nearest" is half-up (a tie goes to the higher tick).
Direction = Literal["nearest", "up", "down"]

_ROUNDING = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}


def round_to_tick(price: float, tick: float, direction: Direction) -> float:
    """``price`` (INR, or the instrument's currency) on the grid of ``tick`` (same unit).

    Args:
        price: the price to round; finite.
        tick: the tick size, > 0.
        direction: ``"up"`` (ceiling), ``"down"`` (floor) or ``"nearest"`` (half-up).

    Returns:
        A float that is an exact decimal multiple of ``tick`` (``Decimal(str(result))`` is
        ``n * Decimal(str(tick))`` for an integer ``n``), within one tick of ``price``
        ("up"/"down") or half a tick ("nearest").

    Raises:
        ValueError: ``tick`` not > 0, or an unknown ``direction``.
    """
    if not tick > 0:
        raise ValueError(f"tick must be > 0, not {tick}")
    rounding = _ROUNDING.get(direction)
    if rounding is None:
        raise ValueError(f"direction must be up, down or nearest, not {direction!r}")
    t = Decimal(str(tick))
    # 9 decimals first: float noise (0.1 + 0.2 = 0.30000000000000004) must not cost a tick
    steps = (Decimal(str(round(price, 9))) / t).to_integral_value(rounding=rounding)
    return float(steps * t)
