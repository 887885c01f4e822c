"""The strategy's link to the store: write-ahead order intents, fills, trades, per-bar checkpoints,
and (its :mod:`~mixbot.strategy.recovery` part) the restore of a checkpoint after a restart.

Client tags are deterministic: ``<bot_id>:<bar index>:<role>`` (the bar whose close caused
the order; protective orders use their entry's signal bar), so re-processing a bar after a
crash finds its own earlier intent instead of creating a second order.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from typing import Any

import backtrader as bt

from mixbot.bus.events import FEED_STATES, Event, make
from mixbot.bus.events import daily_summary as daily_summary_event
from mixbot.errors import BotHalted
from mixbot.orders.manager import EXEC_NAMES, EXEC_TYPES
from mixbot.store.orders import StatusWrite
from mixbot.store.outbox import utcnow
from mixbot.store.unit import Write
from mixbot.strategy.recovery import Recovery, restore, snapshot

__all__ = ["CRASH_ENV", "EXEC_NAMES", "EXEC_TYPES", "Persistence", "restore", "snapshot"]


#: Fault injection for the crash tests: ``MIXBOT_CRASH_AT=<bar>:<stage>`` makes the process
#: kill itself with SIGKILL (a real ``kill -9``) at that point; ``<bar>+:<stage>`` at the first
#: such point at or after that bar (live sessions, whose bar numbers are not known ahead).
#: Stages: ``intent`` (intent committed, order not yet sent), ``fill`` (fill noted; it
#: commits with the bar's next intent or checkpoint),
#: ``checkpoint`` (bar done, its checkpoint not yet committed), ``after`` (checkpoint committed).
CRASH_ENV = "MIXBOT_CRASH_AT"


def _crash_point() -> tuple[int, str, bool] | None:
    spec = os.environ.get(CRASH_ENV, "")
    if ":" not in spec:
        return None
    bar, stage = spec.split(":", 1)
    return int(bar.rstrip("+")), stage, bar.endswith("+")


class Persistence(Recovery):
    """Hooks the :class:`~mixbot.strategy.custom.CustomStrategy` calls when a store is configured.

    The restore after a restart and the reconciliation with the store are its
    :class:`~mixbot.strategy.recovery.Recovery` part.

    It also writes the bus events of the facts it stores, in the same transaction
    (:mod:`mixbot.bus.events`): ``trade_entry``, ``trade_exit``, ``order_rejected``,
    ``order_partially_filled``, ``halted``, ``feed_state`` and ``daily_summary`` (when a bar
    of a new market day is checkpointed, or the session ends, for the day that closed).

    Args:
        store: the bot's :class:`~mixbot.store.repository.Store`.
        symbol: the traded symbol (positions and orders rows).
        tz: the market's time zone (IANA), whose dates the daily summary uses.
    """

    def __init__(self, store: Any, symbol: str, tz: str = "Asia/Kolkata") -> None:
        from zoneinfo import ZoneInfo

        self.store = store
        self.symbol = symbol
        self.tz = ZoneInfo(tz)
        self._day: dt.date | None = None  # market date of the last checkpointed bar
        self._feed_state: str | None = None
        self._filled: dict[str, tuple[float, float, float, int]] = {}  # tag -> stored fills
        #: the writes of this bar not committed yet, in order (a unit of work: they commit
        #: with the next order intent or the bar's checkpoint; see :mod:`mixbot.store.unit`)
        self._writes: list[Write] = []
        #: per order tag, its status write among ``_writes`` that later changes may join
        #: (none once a fill of that order follows it)
        self._joinable: dict[str, StatusWrite] = {}
        self._last_beat = 0.0
        self._last_halt_check = time.monotonic()
        self._halt_seen = False  # the bot took a halt in (its own or from outside)
        self._crash = _crash_point()
        self.bar = -1  # current bar index, for the fault injection

    def maybe_crash(self, stage: str) -> None:
        """SIGKILL this process when ``MIXBOT_CRASH_AT`` names this bar and stage (tests only)."""
        if self._crash is None:
            return
        bar, at, onward = self._crash
        if at == stage and (self.bar == bar or (onward and self.bar >= bar)):
            os.kill(os.getpid(), signal.SIGKILL)

    # ----------------------------------------------------------------- write-ahead
    def _take(self) -> list[Write]:
        writes, self._writes = self._writes, []
        self._joinable = {}
        return writes

    def _status(
        self,
        tag: str,
        status: str,
        broker_id: str | None,
        events: tuple[Event, ...] = (),
        bar_time: dt.datetime | None = None,
    ) -> None:
        """Note a status change; it joins the order's pending status write when there is one
        (its row is read and updated once)."""
        pending = self._joinable.get(tag)
        if pending is not None:
            pending.add(status, broker_id, utcnow(), events)
            return
        w = self.store.status_write(tag, status, broker_id, utcnow(), events, bar_time)
        self._writes.append(w)
        self._joinable[tag] = w

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
        """Commit the order intent (with its ``order_sent`` audit row and the bar's writes
        not committed yet, one transaction) before it is sent; False when the tag was
        already stored."""
        spec = {"role": role, "side": side, "exectype": exectype, "size": size, "price": price}
        return self.intents([(tag, spec)], bar_index, bar_time)[0]

    def intents(
        self, specs: list[tuple[str, dict[str, Any]]], bar_index: int, bar_time: dt.datetime
    ) -> list[bool]:
        """Commit several order intents in ONE transaction (with the bar's writes not
        committed yet) before any of them is sent: ``specs`` = ``[(tag, {role, side,
        exectype, size (shares), price (INR or None)}), ...]``; per intent, False when its
        tag was already stored.

        Raises:
            BotHalted: the store says the bot is halted (``mixbot panic``) and the bot has not
                taken the halt in yet (:meth:`halt`): no intent was written.
        """
        writes = [
            self.store.intent_write(
                tag,
                symbol=self.symbol,
                role=o["role"],
                side=o["side"],
                order_type=EXEC_NAMES.get(o["exectype"], str(o["exectype"])),
                qty=float(o["size"]),
                price=o["price"],
                bar_index=bar_index,
                bar_time=bar_time,
                audit=(
                    "order_sent",
                    f"{o['side']} {o['size']:g} {EXEC_NAMES.get(o['exectype'])} ({o['role']})",
                    {"tag": tag, "price": o["price"]},
                ),
            )
            for tag, o in specs
        ]
        taken = self._take()
        guard = [] if self._halt_seen else [self.store.halt_guard_write()]
        try:
            self.store.commit([*guard, *taken, *writes])
        except BotHalted:  # halted from outside meanwhile: nothing was written, nothing lost
            self._writes = [*taken, *self._writes]
            raise
        self.bar = bar_index
        for (tag, _), w in zip(specs, writes, strict=True):
            if w.ok:  # (an intent found again after a restart is no new kill point)
                self._filled[tag] = (0.0, 0.0, 0.0, 0)  # a new order: no fills stored, no read
        if any(w.ok for w in writes):
            self.maybe_crash("intent")
        return [w.ok for w in writes]

    def on_order(
        self,
        order: bt.Order,
        tag: str | None,
        bar_time: dt.datetime,
        role: str = "?",
        fill_time: dt.datetime | None = None,
    ) -> None:
        """Note a status change and the new part of a Partial/Completed fill; both commit with
        the bar's next order intent or its checkpoint (one unit of work).

        Backtrader's ``order.executed`` is CUMULATIVE (size, average price, commission); the
        store keeps one row per increment, so the part not stored yet is computed against
        what the store holds for the tag (:meth:`Store.fill_totals`, read once per tag and
        process). A fill notified again after a restart (a re-processed bar, an order adopted
        from the venue) adds nothing. ``fill_time``: when the fill happened (naive UTC; a
        live venue's exchange time), default ``bar_time``.
        """
        if tag is None:
            return
        status = order.getstatusname()
        broker_id = order.info.get("broker_order_id")
        if order.status in (bt.Order.Submitted, bt.Order.Accepted):
            # on the way to the exchange. Recovery does not depend on these: an order is
            # found again by its committed intent's tag.
            self._status(tag, status, broker_id, bar_time=bar_time)
            return
        rejected: tuple[Event, ...] = ()
        if order.status in (bt.Order.Rejected, bt.Order.Margin):
            rejected = (
                make(
                    "order_rejected",
                    key=f"order_rejected:{tag}",
                    tag=tag,
                    status=status,
                    role=role,
                    side="BUY" if order.isbuy() else "SELL",
                    qty=abs(float(order.created.size)),
                ),
            )
        fill = self._new_fill(order, tag, role)
        if fill is None:
            self._status(tag, status, broker_id, rejected, bar_time)
            return
        seq, delta, price, commission, partial, totals = fill
        self._joinable.pop(tag, None)  # later changes go after this fill
        self._writes.append(  # the fill and the status change (a fill stored before: the status)
            self.store.fill_write(
                tag,
                seq,
                side="BUY" if order.isbuy() else "SELL",
                qty=delta,
                price=price,
                commission=commission,
                fill_time=fill_time or bar_time,
                events=partial,
                status=(status, broker_id),
            )
        )
        self._filled[tag] = totals
        self.maybe_crash("fill")

    def _new_fill(self, order: bt.Order, tag: str, role: str) -> tuple[Any, ...] | None:
        """The part of ``order``'s cumulative fill not stored yet, as ``(seq, qty, price INR,
        commission INR, events, new totals)``; None when there is none (no fill, or a fill
        notified again)."""
        if order.status not in (order.Partial, order.Completed) or not order.executed.size:
            return None
        done = self._filled.get(tag)
        if done is None:
            done = self._filled[tag] = self.store.fill_totals(tag)
        qty0, notional0, comm0, seq0 = done
        qty = abs(float(order.executed.size))
        notional = qty * float(order.executed.price)
        comm = float(order.executed.comm)
        delta = qty - qty0
        if delta <= 1e-9:
            return None
        price = float(order.executed.price) if not qty0 else (notional - notional0) / delta
        partial: tuple[Event, ...] = ()
        if order.status == bt.Order.Partial:
            partial = (
                make(
                    "order_partially_filled",
                    key=f"order_partially_filled:{tag}:{seq0 + 1}",
                    tag=tag,
                    role=role,
                    filled_qty=qty,
                    remaining_qty=abs(float(order.created.size)) - qty,
                    price=float(order.executed.price),
                ),
            )
        return seq0 + 1, delta, price, comm - comm0, partial, (qty, notional, comm, seq0 + 1)

    def on_position(
        self, size: float, price: float, entry_tag: str | None = None, when: Any = None
    ) -> None:
        """Note the current position (shares, average price INR) for the bar's unit of work.
        With ``entry_tag`` (an entry filled) the ``trade_entry`` event commits with it."""
        events: tuple[Event, ...] = ()
        if entry_tag is not None:
            events = (
                make(
                    "trade_entry",
                    key=f"trade_entry:{entry_tag}",
                    symbol=self.symbol,
                    side="long" if size > 0 else "short",
                    qty=abs(float(size)),
                    price=float(price),
                    tag=entry_tag,
                    bar_time=when,
                ),
            )
        self._writes.append(
            self.store.position_write(self.symbol, float(size), float(price), events=events)
        )

    def on_trade(self, entry_tag: str, rec: Any) -> None:
        """Note a closed trade and its ``trade_exit`` event for the bar's unit of work
        (idempotent on the entry's tag)."""
        exit_event = make(
            "trade_exit",
            key=f"trade_exit:{entry_tag}",
            symbol=self.symbol,
            side=rec.side,
            qty=float(rec.size),
            entry_price=rec.entry_price,
            exit_price=rec.exit_price,
            pnl_gross=rec.pnl_gross,
            charges=rec.charges,
            pnl_net=rec.pnl_net,
            reason=rec.exit_reason,
            tag=entry_tag,
            entry_time=rec.entry_time,
            exit_time=rec.exit_time,
            exit_parts=list(rec.exit_parts),
        )
        write = self.store.trade_write(
            entry_tag,
            (exit_event,),
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
            exit_parts=json.dumps(list(rec.exit_parts)) if rec.exit_parts else None,
        )
        self._writes.append(write)

    def event(
        self, kind: str, message: str, bar_time: dt.datetime | None = None, **data: Any
    ) -> None:
        """Note an audit event for the bar's unit of work."""
        self.note(kind, message, bar_time, data or None)

    def note(
        self,
        kind: str,
        message: str,
        bar_time: dt.datetime | None,
        data: dict[str, Any] | None,
        events: tuple[Event, ...] = (),
    ) -> None:
        """Note an audit row and the bus ``events`` about the same fact for the bar's unit of
        work (they commit together)."""
        self._writes.append(self.store.event_write(kind, message, data, bar_time, events))

    def halt(self, reason: str, bar_time: dt.datetime | None = None) -> None:
        """Audit a halt and emit its ``halted`` event, committed now with the bar's writes;
        from now on the bot's own orders (its square-off) pass the halt guard."""
        self._halt_seen = True
        halted = (make("halted", reason=reason),)
        self.store.commit(
            [*self._take(), self.store.event_write("halt", reason, None, bar_time, halted)]
        )

    def warm(self) -> None:
        """Compile a live bar's statements before a live session (nothing is written: see
        :meth:`~mixbot.store.repository.Store.warm`)."""
        self.store.warm()

    def feed_state(self, state: str) -> None:
        """Record the feed's state now (with the bar's writes not committed yet); a change
        among LIVE/DELAYED/CONNBROKEN/DISCONNECTED is a ``feed_state`` event."""
        events: tuple[Event, ...] = ()
        if state in FEED_STATES and state != self._feed_state:
            events = (make("feed_state", state=state, previous=self._feed_state),)
        self._feed_state = state
        self.store.commit([*self._take(), self.store.feed_state_write(state, events=events)])

    def daily_summary(self, day: dt.date) -> Event:
        """The ``daily_summary`` event of market date ``day``
        (:func:`mixbot.bus.events.daily_summary`): trades closed that day, open positions
        and halts as stored."""
        trades = [
            t for t in self.store.trades() if t["exit_time"] and self._day_of(t["exit_time"]) == day
        ]
        positions = [f"{p['symbol']} {p['qty']:g}" for p in self.store.positions() if p.get("qty")]
        halts = [
            str(e["message"])
            for e in self.store.events("halt")
            if e["bar_time"] is not None and self._day_of(e["bar_time"]) == day
        ]
        return daily_summary_event(day, trades, positions, halts)

    def flush(self) -> None:
        """Commit the writes noted since the last commit (one transaction; nothing when
        there are none)."""
        if self._writes:
            self.store.commit(self._take())

    def finish(self) -> None:
        """The session ended (feed finished): the last writes and day's ``daily_summary``."""
        self.flush()
        if self._day is not None:
            self.store.emit((self.daily_summary(self._day),))

    # ----------------------------------------------------------------- checkpoints
    def checkpoint(self, s: Any, bar_index: int, bar_time: dt.datetime) -> None:
        """End of bar, ONE transaction: the bar's writes not committed yet, the equity point
        and the checkpoint of broker, strategy and risk state."""
        broker = s.broker
        pos = s.position
        self.bar = bar_index
        self.maybe_crash("checkpoint")
        day = self._day_of(bar_time)
        events: tuple[Event, ...] = ()
        if self._day is not None and day != self._day:
            events = (self.daily_summary(self._day),)
        self._day = day
        self.store.checkpoint(
            bar_index,
            bar_time,
            float(broker.getcash()),
            float(broker.getvalue()),
            pos.size != 0,
            snapshot(s),
            events,
            self._take(),
        )
        self.maybe_crash("after")
        self.bar = bar_index + 1  # fills notified before the next bar's next() belong to it
        now = time.monotonic()
        if now - self._last_beat > 5.0:
            self._last_beat = now
            self.feed_state(getattr(s.data, "state_name", "HISTORICAL"))

    def halt_requested(self, every_s: float = 2.0) -> bool:
        """True when the store says this bot is ``halted`` from outside (``mixbot panic``, the
        GUI); read at most every ``every_s`` wall seconds."""
        now = time.monotonic()
        if now - self._last_halt_check < every_s:
            return False
        self._last_halt_check = now
        try:
            return self.store.bot_row().get("status") == "halted"
        except Exception:  # a store hiccup must not stop trading decisions; checked again later
            return False
