"""Orders and fills: write-ahead order intents, status history, idempotent fills.

Part of :class:`mixbot.store.repository.Store` (a mixin: it uses the store's ``engine``,
``pk`` and ``_guard``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select, update

from mixbot.bus.events import Event
from mixbot.errors import BotHalted
from mixbot.store import models as m
from mixbot.store.outbox import utcnow, write_events
from mixbot.store.unit import Write

#: Order statuses after which an order can change no more.
FINAL_STATUSES = ("Completed", "Canceled", "Rejected", "Margin", "Expired", "Abandoned")

# The order path's statements, built once: building (and cache-keying) a statement per call
# cost more than executing it, and a fill bar runs a dozen of them.
_O = m.orders.c
_THIS_ORDER = (_O.bot_pk == bindparam("b_pk")) & (_O.tag == bindparam("b_tag"))
_INTENT_INSERT = insert(m.orders).values(
    bot_pk=bindparam("b_pk"),
    tag=bindparam("b_tag"),
    symbol=bindparam("p_symbol"),
    role=bindparam("p_role"),
    side=bindparam("p_side"),
    order_type=bindparam("p_order_type"),
    qty_requested=bindparam("p_qty"),
    price_requested=bindparam("p_price"),
    qty_filled=0.0,
    status="intent",
    status_history=bindparam("p_history"),
    bar_index=bindparam("p_bar_index"),
    bar_time=bindparam("p_bar_time"),
    created_at=bindparam("p_now"),
    updated_at=bindparam("p_now"),
)
_STATUS_SELECT = select(_O.status, _O.status_history).where(_THIS_ORDER)
_STATUS_UPDATE = (
    update(m.orders)
    .where(_THIS_ORDER)
    .values(
        status=bindparam("p_status"),
        status_history=bindparam("p_history"),
        updated_at=bindparam("p_now"),
        broker_order_id=func.coalesce(
            bindparam("p_broker_id", type_=_O.broker_order_id.type), _O.broker_order_id
        ),
    )
)
_FILL_INSERT = insert(m.fills).values(
    bot_pk=bindparam("b_pk"),
    order_tag=bindparam("b_tag"),
    seq=bindparam("p_seq"),
    side=bindparam("p_side"),
    qty=bindparam("p_qty"),
    price=bindparam("p_price"),
    commission=bindparam("p_commission"),
    fill_time=bindparam("p_fill_time"),
    created_at=bindparam("p_now"),
)
_F = m.fills.c
_FILL_SUMS = select(func.sum(_F.qty), func.sum(_F.qty * _F.price)).where(
    (_F.bot_pk == bindparam("b_pk")) & (_F.order_tag == bindparam("b_tag"))
)
_FILLED_UPDATE = (
    update(m.orders)
    .where(_THIS_ORDER)
    .values(
        qty_filled=bindparam("p_total"),
        avg_fill_price=bindparam("p_avg"),
        updated_at=bindparam("p_now"),
    )
)


#: One status change: (status name, broker order id or None, when: naive UTC, bus events)
StatusChange = tuple[str, str | None, dt.datetime, tuple[Event, ...]]


class StatusWrite(Write):
    """The write of one order's status changes (one read and one update of its row).

    A bar notifies an order Submitted, then Accepted (then often Completed with a fill):
    the changes of one order that nothing else in the unit touches in between join one
    write with :meth:`add`, which halves the statements run under the write lock.
    """

    __slots__ = ("bar_time", "changes", "tag")

    def __init__(
        self, book: OrderBook, tag: str, change: StatusChange, bar_time: dt.datetime | None
    ) -> None:
        self.tag = tag
        self.changes = [change]
        self.bar_time = bar_time
        super().__init__(lambda c: book.apply_statuses(c, tag, self.changes, self.bar_time))

    def add(
        self,
        status: str,
        broker_order_id: str | None,
        at: dt.datetime,
        events: tuple[Event, ...] = (),
    ) -> None:
        """Append a later status change of the same order."""
        self.changes.append((status, broker_order_id, at, events))


class OrderBook:
    """Order intents, status changes and fills of one bot."""

    engine: Engine
    bot_id: str
    mode: str

    @property
    def pk(self) -> int:  # provided by Store
        raise NotImplementedError

    def _guard(self, fn: Any) -> Any:  # provided by Store
        raise NotImplementedError

    def _audit(self, c: Any, kind: str, message: str, data: Any, bar_time: Any) -> None:
        raise NotImplementedError  # provided by Store

    def commit(self, writes: Any) -> None:  # provided by Store
        raise NotImplementedError

    def intent_write(
        self,
        tag: str,
        *,
        symbol: str,
        role: str,
        side: str,
        order_type: str,
        qty: float,
        price: float | None,
        bar_index: int,
        bar_time: dt.datetime | None,
        audit: tuple[str, str, dict[str, Any] | None] | None = None,
    ) -> Write:
        """The write of an order intent (status ``intent``), to commit BEFORE the order is
        sent; ``audit`` = (kind, message, data): an audit event committed with it. After the
        commit its ``ok`` is False when the tag already existed (a re-processed bar after a
        restart): the caller must not create a duplicate."""

        def apply(c: Any) -> None:
            now = utcnow()
            params = {
                "b_pk": self.pk,
                "b_tag": tag,
                "p_symbol": symbol,
                "p_role": role,
                "p_side": side,
                "p_order_type": order_type,
                "p_qty": qty,
                "p_price": price,
                "p_history": [["intent", now.isoformat()]],
                "p_bar_index": bar_index,
                "p_bar_time": bar_time,
                "p_now": now,
            }
            c.execute(_INTENT_INSERT, params)
            if audit is not None:
                self._audit(c, *audit, bar_time)

        return Write(apply)

    def halt_guard_write(self) -> Write:
        """A write that refuses the transaction it opens when the bot is ``halted`` in the
        store (``mixbot panic`` committed first): it raises :class:`~mixbot.errors.BotHalted`
        and everything in the transaction rolls back. Put it before order intents: an intent
        then either commits before the panic's halt (and the panic waits until it is sent,
        then cancels or counts it) or not at all. It is an UPDATE, so it runs under the
        write lock and sees the latest committed status (SQLite and PostgreSQL alike)."""
        bots = m.bots

        def apply(c: Any) -> None:
            q = update(bots).where(bots.c.id == self.pk, bots.c.status != "halted")
            if not c.execute(q.values(status=bots.c.status)).rowcount:
                raise BotHalted(
                    f"bot {self.bot_id} is halted in its store (mixbot panic): no new order"
                )

        return Write(apply)

    def record_intent(self, tag: str, **fields: Any) -> bool:
        """Commit an order intent (:meth:`intent_write`, same arguments) BEFORE it is sent.
        Returns False when the tag already exists (a re-processed bar after a restart)."""
        w = self.intent_write(tag, **fields)
        self.commit([w])
        return w.ok

    def _warm_orders(self, c: Any) -> None:
        """Run the order path's statements on ``c`` with dummy values (the caller rolls
        back): see :meth:`~mixbot.store.repository.Store.warm`."""
        now = utcnow()
        key = {"b_pk": self.pk, "b_tag": "__warm__"}
        c.execute(
            _INTENT_INSERT,
            {
                **key,
                "p_symbol": "__warm__",
                "p_role": "entry",
                "p_side": "BUY",
                "p_order_type": "Market",
                "p_qty": 0.0,
                "p_price": None,
                "p_history": [],
                "p_bar_index": -1,
                "p_bar_time": now,
                "p_now": now,
            },
        )
        self.apply_status(c, "__warm__", "Accepted", None, now)
        fill = {"p_seq": 1, "p_side": "BUY", "p_qty": 0.0, "p_price": 0.0, "p_commission": 0.0}
        c.execute(_FILL_INSERT, {**key, **fill, "p_fill_time": now, "p_now": now})
        c.execute(_FILL_SUMS, key).one()
        c.execute(_FILLED_UPDATE, {**key, "p_total": 0.0, "p_avg": None, "p_now": now})
        self._audit(c, "warm", "", None, None)

    def status_write(
        self,
        tag: str,
        status: str,
        broker_order_id: str | None,
        at: dt.datetime,
        events: tuple[Event, ...] = (),
        bar_time: dt.datetime | None = None,
    ) -> StatusWrite:
        """The write of a status change at ``at`` (naive UTC): see :meth:`apply_status`.
        More changes of the same order can join it (:meth:`StatusWrite.add`). ``bar_time``:
        the bar it was noticed on, for the audit row."""
        return StatusWrite(self, tag, (status, broker_order_id, at, events), bar_time)

    def order_status(
        self,
        tag: str,
        status: str,
        broker_order_id: str | None = None,
        events: tuple[Event, ...] = (),
    ) -> None:
        """Move an order to ``status`` (Backtrader / broker status name), appending to its
        history; ``events`` (e.g. ``order_rejected``) commit with the change, and only when the
        status really changed."""
        self.commit([self.status_write(tag, status, broker_order_id, utcnow(), events)])

    def order_statuses(self, changes: list[tuple[str, str, str | None, dt.datetime]]) -> None:
        """Several status changes ``(tag, status, broker order id or None, when: naive UTC)``
        in one transaction, in order (see :meth:`order_status`)."""
        self.commit([self.status_write(*change) for change in changes])

    def apply_status(
        self,
        c: Any,
        tag: str,
        status: str,
        broker_order_id: str | None,
        at: dt.datetime,
        events: tuple[Event, ...] = (),
        bar_time: dt.datetime | None = None,
    ) -> None:
        """One status change on connection ``c`` (inside the caller's transaction): appended
        to the order's history at ``at``; nothing when the order is unknown, already in that
        status or final (a re-processed bar re-submits)."""
        self.apply_statuses(c, tag, [(status, broker_order_id, at, events)], bar_time)

    def apply_statuses(
        self,
        c: Any,
        tag: str,
        changes: Sequence[StatusChange],
        bar_time: dt.datetime | None = None,
    ) -> None:
        """Several status changes of order ``tag``, in order, with one read and one update
        of its row (each as :meth:`apply_status`; a change's events are written only when it
        applied), and one audit row listing the changes (``bar_time``: the bar they were
        noticed on)."""
        key = {"b_pk": self.pk, "b_tag": tag}
        row = c.execute(_STATUS_SELECT, key).first()
        if row is None:
            return
        current, history = row.status, list(row.status_history or [])
        broker_id: str | None = None
        last_at: dt.datetime | None = None
        events: list[Event] = []
        applied: list[str] = []
        for status, bid, at, evs in changes:
            if status == current or current in FINAL_STATUSES:
                continue
            current, last_at = status, at
            history.append([status, at.isoformat()])
            applied.append(status)
            broker_id = bid or broker_id
            events.extend(evs)
        if last_at is None:
            return
        params = {
            **key,
            "p_status": current,
            "p_history": history,
            "p_now": last_at,
            "p_broker_id": broker_id,
        }
        c.execute(_STATUS_UPDATE, params)
        write_events(c, self.bot_id, self.mode, events)
        msg = f"{tag}: {' -> '.join(applied)}" + (f" (broker id {broker_id})" if broker_id else "")
        data = {"tag": tag, "statuses": applied, "broker_order_id": broker_id}
        self._audit(c, "order_status", msg, data, bar_time)

    def fill_write(
        self,
        tag: str,
        seq: int,
        *,
        side: str,
        qty: float,
        price: float,
        commission: float,
        fill_time: dt.datetime | None,
        events: tuple[Event, ...] = (),
        status: tuple[str, str | None] | None = None,
    ) -> Write:
        """The write of fill ``seq`` of order ``tag`` (qty in shares, price and commission
        INR) that also updates the order's filled quantity and average price; ``events``
        (e.g. ``order_partially_filled``) and the order's new ``status`` ``(name, broker order
        id or None)`` (see :meth:`order_status`) commit with it.

        When this (tag, seq) fill is already stored its ``ok`` is False after the commit and
        only the status change is written."""
        key = {"b_pk": self.pk, "b_tag": tag}

        def apply(c: Any) -> None:
            now = utcnow()
            fill = {"p_seq": seq, "p_side": side, "p_qty": qty, "p_price": price}
            c.execute(
                _FILL_INSERT,
                {**key, **fill, "p_commission": commission, "p_fill_time": fill_time, "p_now": now},
            )
            agg = c.execute(_FILL_SUMS, key).one()
            total, notional = float(agg[0] or 0.0), float(agg[1] or 0.0)
            avg = (notional / total) if total else None
            c.execute(_FILLED_UPDATE, {**key, "p_total": total, "p_avg": avg, "p_now": now})
            msg = f"{tag} fill #{seq}: {side} {qty:g} @ {price:.2f} (charges {commission:.2f})"
            data = {**fill, "p_commission": commission, "tag": tag}
            self._audit(
                c, "fill", msg, {k.removeprefix("p_"): v for k, v in data.items()}, fill_time
            )
            if status is not None:
                self.apply_status(c, tag, status[0], status[1], now, bar_time=fill_time)
            write_events(c, self.bot_id, self.mode, events)

        def status_only(c: Any) -> None:
            if status is not None:
                self.apply_status(c, tag, status[0], status[1], utcnow(), bar_time=fill_time)

        return Write(apply, status_only)

    def record_fill(self, tag: str, seq: int, **fields: Any) -> bool:
        """Commit a fill when it arrives (:meth:`fill_write`, same arguments). Returns False
        (and changes nothing but the status) when this (tag, seq) fill is already stored."""
        w = self.fill_write(tag, seq, **fields)
        self.commit([w])
        return w.ok

    def fill_totals(self, tag: str) -> tuple[float, float, float, int]:
        """What is stored of ``tag``'s fills: ``(qty, notional INR, commission INR, last seq)``
        (zeros when it has none). The strategy turns cumulative fills into increments with it."""

        def go() -> tuple[float, float, float, int]:
            f = m.fills.c
            q = select(
                func.coalesce(func.sum(f.qty), 0.0),
                func.coalesce(func.sum(f.qty * f.price), 0.0),
                func.coalesce(func.sum(f.commission), 0.0),
                func.coalesce(func.max(f.seq), 0),
            ).where(f.bot_pk == self.pk, f.order_tag == tag)
            with self.engine.connect() as c:
                row = c.execute(q).one()
            return float(row[0]), float(row[1]), float(row[2]), int(row[3])

        return self._guard(go)

    def orders(self, open_only: bool = False) -> list[dict[str, Any]]:
        """The bot's orders, oldest first; ``open_only``: not in a final state."""

        def go() -> list[dict[str, Any]]:
            q = select(m.orders).where(m.orders.c.bot_pk == self.pk)
            if open_only:
                q = q.where(
                    m.orders.c.status.in_(["intent", "Created", "Submitted", "Accepted", "Partial"])
                )
            with self.engine.connect() as c:
                return [dict(r) for r in c.execute(q.order_by(m.orders.c.id)).mappings()]

        return self._guard(go)

    def fills(self) -> list[dict[str, Any]]:
        """The bot's fills, oldest first."""

        def go() -> list[dict[str, Any]]:
            with self.engine.connect() as c:
                q = select(m.fills).where(m.fills.c.bot_pk == self.pk).order_by(m.fills.c.id)
                return [dict(r) for r in c.execute(q).mappings()]

        return self._guard(go)

    # ------------------------------------------------------------------ positions and trades
