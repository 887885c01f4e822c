"""Checkpoint state and the restore after a restart: :func:`snapshot` / :func:`restore` of a
strategy's broker position, order manager and risk state, and the reconciliation of the
store's orders with a restored session (:class:`Recovery`, a part of
:class:`~mixbot.strategy.persistence.Persistence`).

The order state goes through the order manager's public API only
(:meth:`~mixbot.orders.manager.OrderManager.snapshot` / ``restore``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

import backtrader as bt

from mixbot.orders.manager import slot_of
from mixbot.risk.manager import DayCounters
from mixbot.store.orders import FINAL_STATUSES
from mixbot.strategy.winddown import PANIC_ROLE


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.datetime | dt.date) else v


def snapshot(s: Any) -> dict[str, Any]:
    """JSON-safe state of a CustomStrategy ``s``: its broker position (shares, average price
    INR), its order manager's snapshot (orders, signal bar, exit reason, position state,
    open trade) and its risk manager (day counters, peak equity INR, halt)."""
    risk = s.rt.risk.state
    return {
        "position": {"size": float(s.position.size), "price": float(s.position.price)},
        **s.orders.snapshot(),
        "risk": {
            "today": {**asdict(risk.today), "day": _iso(risk.today.day)},
            "peak_equity": risk.peak_equity,
            "halted": risk.halted,
            "halt_reason": risk.halt_reason,
        },
    }


def restore(
    s: Any,
    checkpoint: dict[str, Any],
    extra_orders: list[dict[str, Any]] | None = None,
    signal_bar: int | None = None,
) -> None:
    """Inverse of :func:`snapshot`; the order manager re-submits open orders under their tags.

    ``extra_orders``: order specs (the shape of the snapshot's ``orders``) to re-submit after
    the checkpoint's own (a live restart's orders sent after the checkpoint), ``signal_bar``
    the bar of such an entry. A broker whose cash comes from the venue (``venue_cash``) keeps
    it; one with ``set_position`` (Upstox) gets the checkpoint's position that way, so the
    venue position found at start is not counted twice; a broker that adopts orders
    executes an adopted order's fills again from its first one, so it gets the position
    WITHOUT the fills the checkpoint's live orders had (:func:`before_live_fills`).
    """
    st = checkpoint["state"]
    broker = s.broker
    if not getattr(broker, "venue_cash", False):
        broker.set_cash(float(checkpoint["cash"]))
    p = st["position"]
    if hasattr(broker, "set_position"):
        size, price = p["size"], p["price"]
        if getattr(broker, "adopts_orders", False):
            size, price = before_live_fills(size, price, st["orders"])
        broker.set_position(s.data, size, price)
    elif p["size"]:
        broker.positions[s.data] = bt.Position(size=p["size"], price=p["price"])
    r = st["risk"]
    today = dict(r["today"])
    today["day"] = dt.date.fromisoformat(today["day"]) if today["day"] else None
    risk = s.rt.risk.state
    risk.today = DayCounters(**today)
    risk.peak_equity, risk.halted, risk.halt_reason = (
        r["peak_equity"],
        r["halted"],
        r["halt_reason"],
    )
    s.orders.restore(st, extra_orders, signal_bar=signal_bar)


def before_live_fills(
    size: float, price: float, orders: list[dict[str, Any]]
) -> tuple[float, float]:
    """The position (shares, average price INR; long) before the fills of the checkpoint's
    live ``orders`` (their ``filled`` shares at ``filled_price``): BUY fills are taken off
    the size and out of the average; SELL fills are added back at the same average (a sale
    does not change a long's average price)."""
    for o in orders:
        q, px = float(o.get("filled") or 0.0), float(o.get("filled_price") or 0.0)
        if not q:
            continue
        if o["side"] == "BUY":
            rest = size - q
            price = (size * price - q * px) / rest if rest > 1e-9 else 0.0
            size = rest
        else:
            size += q
    return size, price


class Recovery:
    """The restore and reconcile half of :class:`~mixbot.strategy.persistence.Persistence`
    (which sets the attributes declared here)."""

    store: Any
    tz: ZoneInfo
    bar: int
    _day: dt.date | None

    def _day_of(self, bar_time: dt.datetime) -> dt.date:
        """The trading-session date of ``bar_time`` (naive UTC) in exchange time."""
        from mixbot.market import session_date

        return session_date(bar_time, self.tz)

    def restore(self, s: Any, checkpoint: dict[str, Any]) -> None:
        """Put the broker, strategy and risk manager back into the checkpoint's state."""
        restore(s, checkpoint)
        self.bar = checkpoint["bar_index"] + 1
        self._day = self._day_of(checkpoint["bar_time"])
        self.store.event(
            "restart",
            f"resumed after bar {checkpoint['bar_index']}",
            {"cash": checkpoint["cash"], "orders": len(checkpoint["state"]["orders"])},
            checkpoint["bar_time"],
        )
        self.reconcile(checkpoint)

    def restore_live(self, s: Any, checkpoint: dict[str, Any]) -> list[dict[str, Any]]:
        """Resume on a LIVE feed (the bars since the checkpoint are gone, the market moved on).

        The strategy, risk and position state come from the checkpoint. Orders the store holds
        that were sent AFTER the checkpoint (the process died before that bar's checkpoint)
        and are still open or have fills cannot be re-processed with their bar:

        - with a broker that adopts orders (Upstox: ``adopts_orders``), entries and exits are
          re-created under their tags and the broker attaches them to the venue orders (or
          finds they never arrived); protective orders are re-created by their entry's fill;
          then the order book is read at once and the position compared with the venue's.
        - with the paper broker (orders lived in the dead process) they are marked
          ``Abandoned``; fills recorded for them stay in the store and are reported.

        Each decision is a ``reconcile`` event. Returns the events' data.
        """
        held = {o["tag"] for o in checkpoint["state"]["orders"]}
        adopts = bool(getattr(s.broker, "adopts_orders", False))
        extra, diffs, entry_bar = self._after_checkpoint(checkpoint, held, adopts)
        restore(s, checkpoint, extra, signal_bar=entry_bar)
        if entry_bar is not None:
            s.rt.risk.on_entry()
        self.bar = checkpoint["bar_index"] + 1
        self._day = self._day_of(checkpoint["bar_time"])
        if adopts:
            diffs += self._sync_venue(s)
        self.store.event(
            "restart",
            f"resumed on a live feed after bar {checkpoint['bar_index']}",
            {"orders": len(held), "after_checkpoint": len(diffs)},
            checkpoint["bar_time"],
        )
        return diffs

    def _after_checkpoint(
        self, checkpoint: dict[str, Any], held: set[str], adopts: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int | None]:
        """The stored orders sent after the checkpoint: (order specs to re-create, the
        ``reconcile`` diffs, the bar of an entry among them or None)."""
        extra: list[dict[str, Any]] = []
        diffs: list[dict[str, Any]] = []
        entry_bar: int | None = None
        last = int(checkpoint["bar_index"])
        for row in self.store.orders():
            tag = row["tag"]
            # sent after the checkpoint (or on its bar, from a notification) and still open,
            # or already filled: either way not in the checkpoint's position
            after = row["bar_index"] >= last and (
                row["status"] not in FINAL_STATUSES or row["qty_filled"]
            )
            if row["role"] == PANIC_ROLE and checkpoint.get("updated_at"):
                # the panic's exit of this bot's position (no bar: sent by `mixbot panic`
                # while the bot was wedged or gone): after the checkpoint if written after it
                after = row["created_at"] > checkpoint["updated_at"]
            if tag in held or not after:
                continue
            slot = slot_of(row["role"])
            diff = {"tag": tag, "status": row["status"], "bar_index": row["bar_index"]}
            if not adopts:
                self.store.order_status(tag, "Abandoned")  # (a final status stays)
                diff["action"] = "abandoned"
                msg = (
                    f"order {tag} was sent after the last checkpoint to the paper broker, which "
                    f"died with the process: abandoned (filled {row['qty_filled']:g} before)"
                )
            elif slot == "protect":
                diff["action"] = "re-created by its entry's fill"
                msg = f"protective order {tag} was sent after the last checkpoint: {diff['action']}"
            else:
                diff["action"] = "looked up at the broker by its tag"
                msg = f"{slot} order {tag} was sent after the last checkpoint: {diff['action']}"
                extra.append(
                    {
                        "slot": slot,
                        "tag": tag,
                        "role": row["role"],
                        "side": row["side"],
                        "exectype": row["order_type"],
                        "size": float(row["qty_requested"]),
                        "price": row["price_requested"],
                        "oco": None,
                    }
                )
                if slot == "entry":
                    entry_bar = int(row["bar_index"])
            diffs.append(diff)
            self.store.event("reconcile", msg, diff)
        return extra, diffs, entry_bar

    def _sync_venue(self, s: Any) -> list[dict[str, Any]]:
        """Read the venue's order book now; report adopted orders and a position mismatch."""
        diffs: list[dict[str, Any]] = []
        s.broker.sync()
        for tag, outcome in getattr(s.broker, "adopted", []):
            self.store.event("reconcile", f"order {tag}: {outcome}", {"tag": tag})
        mine = s.broker.getposition(s.data).size
        venue = s.broker.venue_position(s.data)
        if venue is not None and venue != mine:
            diff = {"position": mine, "venue_position": venue}
            diffs.append(diff)
            self.store.event(
                "reconcile",
                f"position after the restart is {mine:g} but the broker reports {venue:g} "
                "for this instrument and product (another bot or a manual order?)",
                diff,
            )
        return diffs

    def reconcile(self, checkpoint: dict[str, Any]) -> list[dict[str, Any]]:
        """Compare the store's open orders with what the (paper) broker held at the checkpoint.

        An order the store has as open but the broker did not hold was either

        - created on the checkpoint's bar or after it (the process died before the next
          checkpoint): that bar is re-processed and finds the intent by its tag, so nothing
          is sent twice; or
        - created on an earlier bar and dropped by the strategy before the checkpoint: only a
          requested cancel does that (an exit cancels the protective orders), and the paper
          broker cancels at once, so it is stored as ``Canceled``, the status the
          uninterrupted session records when the cancel's notification arrives.

        Each difference becomes a ``reconcile`` event. Returns the differences.
        """
        held = {o["tag"] for o in checkpoint["state"]["orders"]}
        last = int(checkpoint["bar_index"])
        diffs: list[dict[str, Any]] = []
        for row in self.store.orders(open_only=True):
            if row["tag"] in held:
                continue
            diff = {"tag": row["tag"], "status": row["status"], "bar_index": row["bar_index"]}
            if row["bar_index"] < last:
                self.store.order_status(row["tag"], "Canceled")
                diff["action"] = "canceled"
                msg = (
                    f"order {row['tag']} is {row['status']} in the store but its cancel was "
                    "requested before the checkpoint (the paper broker cancels at once): Canceled"
                )
            else:
                msg = (
                    f"order {row['tag']} is {row['status']} in the store but the broker did not "
                    "hold it at the checkpoint; its bar is re-processed and finds the intent by "
                    "its tag"
                )
            diffs.append(diff)
            self.store.event("reconcile", msg, diff)
        known = {r["tag"] for r in self.store.orders()}
        for tag in sorted(held - known):
            diffs.append({"tag": tag, "status": "missing"})
            self.store.event(
                "reconcile",
                f"the broker held order {tag} that the store does not know",
                {"tag": tag},
            )
        return diffs
