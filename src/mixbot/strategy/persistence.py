"""The strategy's link to the store: write-ahead order intents, fills, trades, per-bar checkpoints,
and the restore of a checkpoint after a restart.

Client tags are deterministic: ``<bot_id>:<bar index>:<role>`` (the bar whose close caused
the order; protective orders use their entry's signal bar), so re-processing a bar after a
crash finds its own earlier intent instead of creating a second order.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from dataclasses import asdict
from typing import Any

import backtrader as bt

from mixbot.risk.manager import DayCounters
from mixbot.strategy.mixin import PositionState

EXEC_NAMES = {
    bt.Order.Market: "Market",
    bt.Order.Limit: "Limit",
    bt.Order.Stop: "Stop",
    bt.Order.StopLimit: "StopLimit",
}
EXEC_TYPES = {v: k for k, v in EXEC_NAMES.items()}


#: Fault injection for the crash tests: ``MIXBOT_CRASH_AT=<bar>:<stage>`` makes the process
#: kill itself with SIGKILL (a real ``kill -9``) at that point. Stages: ``intent`` (intent
#: committed, order not yet sent), ``fill`` (fill committed), ``checkpoint`` (bar done, its
#: checkpoint not yet committed), ``after`` (checkpoint committed).
CRASH_ENV = "MIXBOT_CRASH_AT"


def _crash_point() -> tuple[int, str] | None:
    spec = os.environ.get(CRASH_ENV, "")
    if ":" not in spec:
        return None
    bar, stage = spec.split(":", 1)
    return int(bar), stage


class Persistence:
    """Hooks the :class:`~mixbot.strategy.custom.CustomStrategy` calls when a store is configured.

    Args:
        store: the bot's :class:`~mixbot.store.repository.Store`.
        symbol: the traded symbol (positions and orders rows).
    """

    def __init__(self, store: Any, symbol: str) -> None:
        self.store = store
        self.symbol = symbol
        self._fill_seq: dict[str, int] = {}
        self._last_beat = 0.0
        self._crash = _crash_point()
        self.bar = -1  # current bar index, for the fault injection

    def maybe_crash(self, stage: str) -> None:
        """SIGKILL this process when ``MIXBOT_CRASH_AT`` names this bar and stage (tests only)."""
        if self._crash is not None and self._crash == (self.bar, stage):
            os.kill(os.getpid(), signal.SIGKILL)

    # ----------------------------------------------------------------- write-ahead
    def intent(
        self,
        tag: str,
        *,
        role: str,
        side: str,
        exectype: int,
        size: float,
        price: float | None,
        bar_index: int,
        bar_time: dt.datetime,
    ) -> bool:
        """Commit the order intent before it is sent; False when the tag was already stored."""
        fresh = self.store.record_intent(
            tag,
            symbol=self.symbol,
            role=role,
            side=side,
            order_type=EXEC_NAMES.get(exectype, str(exectype)),
            qty=float(size),
            price=price,
            bar_index=bar_index,
            bar_time=bar_time,
        )
        self.bar = bar_index
        self.maybe_crash("intent")
        if fresh:
            self.store.event(
                "order_sent",
                f"{side} {size:g} {EXEC_NAMES.get(exectype)} ({role})",
                {"tag": tag, "price": price},
                bar_time,
            )
        return fresh

    def on_order(self, order: bt.Order, tag: str | None, bar_time: dt.datetime) -> None:
        """Record a status change; commit the fill of a Partial/Completed notification."""
        if tag is None:
            return
        self.store.order_status(tag, order.getstatusname())
        if order.status in (order.Partial, order.Completed) and order.executed.size:
            seq = self._fill_seq.get(tag, 0) + 1
            self._fill_seq[tag] = seq
            self.store.record_fill(
                tag,
                seq,
                side="BUY" if order.isbuy() else "SELL",
                qty=abs(float(order.executed.size)),
                price=float(order.executed.price),
                commission=float(order.executed.comm),
                fill_time=bar_time,
            )
            self.maybe_crash("fill")

    def on_position(self, size: float, price: float) -> None:
        """Upsert the current position (shares, average price INR)."""
        self.store.set_position(self.symbol, float(size), float(price))

    def on_trade(self, entry_tag: str, rec: Any) -> None:
        """Commit a closed trade (idempotent on the entry's tag)."""
        self.store.record_trade(
            entry_tag,
            symbol=self.symbol,
            side=rec.side,
            qty=float(rec.size),
            entry_time=rec.entry_time,
            exit_time=rec.exit_time,
            entry_price=rec.entry_price,
            exit_price=rec.exit_price,
            pnl_gross=rec.pnl_gross,
            charges=rec.charges,
            pnl_net=rec.pnl_net,
            exit_reason=rec.exit_reason,
            bars_held=rec.bars_held,
        )

    def event(
        self, kind: str, message: str, bar_time: dt.datetime | None = None, **data: Any
    ) -> None:
        """Append an audit event."""
        self.store.event(kind, message, data or None, bar_time)

    # ----------------------------------------------------------------- checkpoints
    def checkpoint(self, s: Any, bar_index: int, bar_time: dt.datetime) -> None:
        """End of bar: equity point + checkpoint of broker, strategy and risk state, one transaction."""
        broker = s.broker
        pos = s.position
        self.bar = bar_index
        self.maybe_crash("checkpoint")
        self.store.checkpoint(
            bar_index,
            bar_time,
            float(broker.getcash()),
            float(broker.getvalue()),
            pos.size != 0,
            snapshot(s),
        )
        self.maybe_crash("after")
        self.bar = bar_index + 1  # fills notified before the next bar's next() belong to it
        now = time.monotonic()
        if now - self._last_beat > 5.0:
            self._last_beat = now
            self.store.set_feed_state(getattr(s.data, "state_name", "HISTORICAL"))

    def restore(self, s: Any, checkpoint: dict[str, Any]) -> None:
        """Put the broker, strategy and risk manager back into the checkpoint's state."""
        restore(s, checkpoint)
        self.bar = checkpoint["bar_index"] + 1
        self.store.event(
            "restart",
            f"resumed after bar {checkpoint['bar_index']}",
            {"cash": checkpoint["cash"], "orders": len(checkpoint["state"]["orders"])},
            checkpoint["bar_time"],
        )
        self.reconcile(checkpoint)

    def reconcile(self, checkpoint: dict[str, Any]) -> list[dict[str, Any]]:
        """Compare the store's open orders with what the (paper) broker held at the checkpoint.

        An order the store has as open but the broker did not hold was created on a bar after
        the checkpoint (the process died before that bar's checkpoint): that bar is re-processed
        and finds the intent by its tag, so nothing is sent twice. Each difference becomes a
        ``reconcile`` event. Returns the differences.
        """
        held = {o["tag"] for o in checkpoint["state"]["orders"]}
        diffs: list[dict[str, Any]] = []
        for row in self.store.orders(open_only=True):
            if row["tag"] not in held:
                diff = {"tag": row["tag"], "status": row["status"], "bar_index": row["bar_index"]}
                diffs.append(diff)
                self.store.event(
                    "reconcile",
                    f"order {row['tag']} is {row['status']} in the store but the broker did not hold it "
                    "at the checkpoint; its bar is re-processed and finds the intent by its tag",
                    diff,
                )
        known = {r["tag"] for r in self.store.orders()}
        for tag in sorted(held - known):
            diffs.append({"tag": tag, "status": "missing"})
            self.store.event(
                "reconcile",
                f"the broker held order {tag} that the store does not know",
                {"tag": tag},
            )
        return diffs


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.datetime | dt.date) else v


def snapshot(s: Any) -> dict[str, Any]:
    """JSON-safe state of a CustomStrategy, its broker position/open orders and its risk manager."""
    orders = []
    slots = (
        [("entry", s.entry_order)] + [("protect", o) for o in s.protect] + [("exit", s.exit_order)]
    )
    prev_tag = None
    for slot, o in slots:
        if o is None or not o.alive():
            continue
        tag = s.order_tag.get(o.ref)
        orders.append(
            {
                "slot": slot,
                "tag": tag,
                "role": s.order_reason.get(o.ref, "?"),
                "side": "BUY" if o.isbuy() else "SELL",
                "exectype": EXEC_NAMES[o.exectype],
                "size": abs(float(o.created.size)),
                "price": None if o.exectype == bt.Order.Market else float(o.created.price),
                "oco": prev_tag if slot == "protect" and o.exectype == bt.Order.Limit else None,
            }
        )
        if slot == "protect":
            prev_tag = tag
    risk = s.rt.risk.state
    ot = dict(s.open_trade) if s.open_trade else None
    if ot:
        ot["entry_time"] = _iso(ot["entry_time"])
    return {
        "position": {"size": float(s.position.size), "price": float(s.position.price)},
        "orders": orders,
        "signal_bar": s.signal_bar,
        "exit_reason": s.exit_reason,
        "pos_state": asdict(s.pos_state) if s.pos_state else None,
        "open_trade": ot,
        "risk": {
            "today": {**asdict(risk.today), "day": _iso(risk.today.day)},
            "peak_equity": risk.peak_equity,
            "halted": risk.halted,
            "halt_reason": risk.halt_reason,
        },
    }


def restore(s: Any, checkpoint: dict[str, Any]) -> None:
    """Inverse of :func:`snapshot`; re-submits open orders under their original tags."""
    st = checkpoint["state"]
    s.broker.set_cash(float(checkpoint["cash"]))
    p = st["position"]
    if p["size"]:
        s.broker.positions[s.data] = bt.Position(size=p["size"], price=p["price"])
    s.signal_bar = st["signal_bar"]
    s.exit_reason = st["exit_reason"]
    s.pos_state = PositionState(**st["pos_state"]) if st["pos_state"] else None
    ot = st["open_trade"]
    if ot:
        ot = dict(ot)
        ot["entry_time"] = dt.datetime.fromisoformat(ot["entry_time"])
    s.open_trade = ot
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
    by_tag: dict[str, bt.Order] = {}
    for spec in st["orders"]:
        oco = by_tag.get(spec["oco"]) if spec["oco"] else None
        o = s._send(
            spec["role"],
            spec["tag"],
            spec["side"],
            EXEC_TYPES[spec["exectype"]],
            spec["size"],
            spec["price"],
            oco=oco,
        )
        by_tag[spec["tag"]] = o
        if spec["slot"] == "entry":
            s.entry_order = o
        elif spec["slot"] == "exit":
            s.exit_order = o
        else:
            s.protect.append(o)
