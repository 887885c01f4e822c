"""Orders and fills: write-ahead order intents, status history, idempotent fills.

Part of :class:`mixbot.store.repository.Store` (a mixin: it uses the store's ``engine``,
``pk`` and ``_guard``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mixbot.bus.events import Event
from mixbot.store import models as m
from mixbot.store.outbox import utcnow, write_events

#: Order statuses after which an order can change no more.
FINAL_STATUSES = ("Completed", "Canceled", "Rejected", "Margin", "Expired", "Abandoned")


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

    def record_intent(
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
    ) -> bool:
        """Commit an order intent BEFORE it is sent. Returns False when the tag already
        exists (a re-processed bar after a restart): the caller must not create a duplicate."""

        def go() -> bool:
            now = utcnow()
            try:
                with self.engine.begin() as c:
                    c.execute(
                        insert(m.orders).values(
                            bot_pk=self.pk,
                            tag=tag,
                            symbol=symbol,
                            role=role,
                            side=side,
                            order_type=order_type,
                            qty_requested=qty,
                            price_requested=price,
                            qty_filled=0.0,
                            status="intent",
                            status_history=[["intent", now.isoformat()]],
                            bar_index=bar_index,
                            bar_time=bar_time,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                return True
            except IntegrityError:
                return False

        return self._guard(go)

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

        def go() -> None:
            now = utcnow()
            with self.engine.begin() as c:
                row = c.execute(
                    select(m.orders.c.status, m.orders.c.status_history).where(
                        m.orders.c.bot_pk == self.pk, m.orders.c.tag == tag
                    )
                ).first()
                if row is None or row.status == status or row.status in FINAL_STATUSES:
                    return  # a final status never moves back (a re-processed bar re-submits)
                history = list(row.status_history or []) + [[status, now.isoformat()]]
                values: dict[str, Any] = {
                    "status": status,
                    "status_history": history,
                    "updated_at": now,
                }
                if broker_order_id:
                    values["broker_order_id"] = broker_order_id
                c.execute(
                    update(m.orders)
                    .where(m.orders.c.bot_pk == self.pk, m.orders.c.tag == tag)
                    .values(**values)
                )
                write_events(c, self.bot_id, self.mode, events)

        self._guard(go)

    def record_fill(
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
    ) -> bool:
        """Commit a fill when it arrives and update the order's filled quantity and average
        price; ``events`` (e.g. ``order_partially_filled``) commit with it.

        Returns False (and changes nothing) when this (tag, seq) fill is already stored."""

        def go() -> bool:
            now = utcnow()
            try:
                with self.engine.begin() as c:
                    c.execute(
                        insert(m.fills).values(
                            bot_pk=self.pk,
                            order_tag=tag,
                            seq=seq,
                            side=side,
                            qty=qty,
                            price=price,
                            commission=commission,
                            fill_time=fill_time,
                            created_at=now,
                        )
                    )
                    agg = c.execute(
                        select(
                            func.sum(m.fills.c.qty), func.sum(m.fills.c.qty * m.fills.c.price)
                        ).where(m.fills.c.bot_pk == self.pk, m.fills.c.order_tag == tag)
                    ).one()
                    total, notional = float(agg[0] or 0.0), float(agg[1] or 0.0)
                    c.execute(
                        update(m.orders)
                        .where(m.orders.c.bot_pk == self.pk, m.orders.c.tag == tag)
                        .values(
                            qty_filled=total,
                            avg_fill_price=(notional / total) if total else None,
                            updated_at=now,
                        )
                    )
                    write_events(c, self.bot_id, self.mode, events)
                return True
            except IntegrityError:
                return False

        return self._guard(go)

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
