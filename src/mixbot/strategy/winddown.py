"""After a halt from outside (``mixbot panic``): the bot takes no more decisions and books what
the panic did to its position before it stops.

``mixbot panic`` acts at the venue itself (:mod:`mixbot.venues.upstox.panic`): it cancels every
open order and exits every position, the bot's own share of a position under its own exit
(tag ``<bot_id>:pn<stamp>``, role ``panic``, intent written to the bot's store first). A
running bot that sees the halt (status ``halted`` in its store) used to stop after the bar,
its books still holding the position the panic had just closed. Now, on a broker that adopts
orders by tag (``adopts_orders``: Upstox), it winds down instead, bar by bar:

1. no decision is taken (no entry, no exit signal, no square-off: the panic's exit is the
   exit);
2. every ``panic`` intent of this bot in the store that the order manager does not hold yet
   is taken over as the exit order (:meth:`~mixbot.orders.manager.OrderManager.adopt`): the
   broker attaches it to the venue's order by tag and its fills close the trade (exit reason
   ``panic``, exact fills and parts like any exit);
3. once the bot is flat with no live order, it stops (the halt is in the checkpoint: a
   restarted bot stays halted until an operator resumes it).

A bot that is flat and idle when the halt comes, or a broker without venue orders (paper),
stops after the bar as before. A bot that dies before the panic's exit is booked adopts it on
its next start like any order sent after its last checkpoint
(:meth:`~mixbot.strategy.recovery.Recovery.restore_live`).
"""

from __future__ import annotations

import logging
from typing import Any

from mixbot.store.orders import FINAL_STATUSES

log = logging.getLogger(__name__)

#: the role of the panic's exit of the bot's own share (mixbot.venues.upstox.panic)
PANIC_ROLE = "panic"


class WindDown:
    """The wind-down of one strategy after an outside halt (see the module docstring)."""

    def __init__(self, strategy: Any) -> None:
        self.s = strategy
        self.taken: set[str] = set()

    def _busy(self) -> bool:
        om = self.s.orders
        live = [om.entry_order, om.exit_order, *om.protect]
        return bool(self.s.position.size) or any(o is not None and o.alive() for o in live)

    def done(self) -> bool:
        """One bar of the wind-down: True when the bot may stop now."""
        s = self.s
        if not getattr(s.broker, "adopts_orders", False) or not self._busy():
            return True
        self._take_panic_exits()
        return not self._busy()

    def _take_panic_exits(self) -> None:
        s, om = self.s, self.s.orders
        if om.exit_order is not None and om.exit_order.alive():
            return
        prefix = f"{om.bot_id}:pn"
        held = set(om.order_tag.values())
        for row in s.persist.store.orders():
            tag = str(row["tag"])
            if row["role"] != PANIC_ROLE or not tag.startswith(prefix):
                continue
            if tag in held or tag in self.taken or row["status"] in FINAL_STATUSES:
                continue
            self.taken.add(tag)
            log.warning(
                "halted by panic: booking its exit %s of %g shares", tag, row["qty_requested"]
            )
            s.broker.known_tags.add(tag)  # attach it by tag, never send it again
            om.adopt(tag, PANIC_ROLE, str(row["side"]), float(row["qty_requested"]))
            return


__all__ = ["PANIC_ROLE", "WindDown"]
