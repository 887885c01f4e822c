"""The repository the rest of mixbot uses: one :class:`Store` per bot process.

Write-ahead discipline (issue "Persistence and crash recovery"):

* an order INTENT is committed with its client tag before the order goes to the broker
  (:meth:`Store.record_intent`); tags are deterministic (bot, bar, role), so a re-processed
  bar finds its own earlier intent instead of creating a second one;
* each fill is committed when it arrives (:meth:`Store.record_fill`), idempotent on
  (order tag, fill number);
* at the end of every bar one transaction writes the equity point and the checkpoint
  (last fully processed bar, broker cash/positions/open orders, strategy and risk state).

A restarted bot resumes after the checkpoint's bar; everything it re-does before the
next checkpoint is idempotent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mixbot.errors import StoreError
from mixbot.store import models as m
from mixbot.store.db import _translate, describe, open_engine

#: Order statuses after which an order can change no more.
FINAL_STATUSES = ("Completed", "Canceled", "Rejected", "Margin", "Expired", "Abandoned")


def utcnow() -> dt.datetime:
    """Current time, naive UTC (the store's convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Store:
    """Access to one bot's rows in a database.

    Args:
        url: SQLAlchemy URL (see :func:`mixbot.store.db.resolve_url`).
        bot_id, mode: the bot (``mode`` paper or live); rows of other bots are never touched.
        engine: reuse an engine (tests, several bots in one process).
        create: False refuses to create a missing SQLite file (read-only commands).
        busy_timeout: SQLite only: seconds a statement waits for another process's write lock
            before failing with "locked".

    Raises:
        StoreError: the database cannot be opened or migrated.
    """

    def __init__(
        self,
        url: str,
        bot_id: str,
        mode: str,
        engine: Engine | None = None,
        create: bool = True,
        busy_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.engine = engine or open_engine(url, create=create, busy_timeout=busy_timeout)
        self.bot_id = bot_id
        self.mode = mode
        self.bot_pk: int | None = None

    # ------------------------------------------------------------------ helpers
    def _guard(self, fn: Any) -> Any:
        try:
            return fn()
        except StoreError:
            raise
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url) from None

    @property
    def pk(self) -> int:
        if self.bot_pk is None:
            found = self.find_bot()
            if found is None:
                raise StoreError(
                    f"{describe(self.url)}: no rows for bot {self.bot_id!r} in {self.mode} mode "
                    "(has it run yet?)"
                )
            self.bot_pk = found
        return self.bot_pk

    def find_bot(self) -> int | None:
        """The bot's primary key, or None when it never ran against this database."""

        def go() -> int | None:
            with self.engine.connect() as c:
                return c.execute(
                    select(m.bots.c.id).where(
                        m.bots.c.bot_id == self.bot_id, m.bots.c.mode == self.mode
                    )
                ).scalar()

        return self._guard(go)

    # ------------------------------------------------------------------ bot lifecycle
    def register(self, config_hash: str, config_file: str, fresh: bool = False) -> dict[str, Any]:
        """Create or re-open the bot's row and mark it running.

        Returns:
            ``{"resumed": bool, "config_changed": bool}``.

        ``fresh`` deletes every earlier row of this bot in this mode first (a new session).
        """

        def go() -> dict[str, Any]:
            now = utcnow()
            with self.engine.begin() as c:
                row = (
                    c.execute(
                        select(m.bots).where(
                            m.bots.c.bot_id == self.bot_id, m.bots.c.mode == self.mode
                        )
                    )
                    .mappings()
                    .first()
                )
                if row is not None and fresh:
                    # children first: does not rely on ON DELETE CASCADE being enforced
                    for t in (
                        m.fills,
                        m.orders,
                        m.positions,
                        m.trades,
                        m.equity,
                        m.checkpoints,
                        m.events,
                    ):
                        c.execute(delete(t).where(t.c.bot_pk == row["id"]))
                    c.execute(delete(m.bots).where(m.bots.c.id == row["id"]))
                    row = None
                if row is None:
                    key = c.execute(
                        insert(m.bots).values(
                            bot_id=self.bot_id,
                            mode=self.mode,
                            config_hash=config_hash,
                            config_file=config_file,
                            status="running",
                            created_at=now,
                            updated_at=now,
                        )
                    ).inserted_primary_key
                    assert key is not None
                    self.bot_pk = int(key[0])
                    return {"resumed": False, "config_changed": False}
                self.bot_pk = int(row["id"])
                changed = row["config_hash"] != config_hash
                c.execute(
                    update(m.bots)
                    .where(m.bots.c.id == row["id"])
                    .values(status="running", updated_at=now)
                )
                return {
                    "resumed": True,
                    "config_changed": changed,
                    "previous_status": row["status"],
                }

        return self._guard(go)

    def set_status(self, status: str, feed_state: str | None = None) -> None:
        """Record the bot's status (running/finished/stopped/error/halted) and feed state."""
        values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if feed_state is not None:
            values["feed_state"] = feed_state

        def go() -> None:
            with self.engine.begin() as c:
                c.execute(update(m.bots).where(m.bots.c.id == self.pk).values(**values))

        self._guard(go)

    def set_feed_state(self, feed_state: str) -> None:
        """Record the feed's state (CONNECTED, LIVE, DISCONNECTED, ...)."""

        def go() -> None:
            with self.engine.begin() as c:
                c.execute(
                    update(m.bots).where(m.bots.c.id == self.pk).values(feed_state=feed_state)
                )

        self._guard(go)

    def bot_row(self) -> dict[str, Any]:
        """The bot's row as a dict."""

        def go() -> dict[str, Any]:
            with self.engine.connect() as c:
                return dict(
                    c.execute(select(m.bots).where(m.bots.c.id == self.pk)).mappings().one()
                )

        return self._guard(go)

    # ------------------------------------------------------------------ events
    def event(
        self,
        kind: str,
        message: str,
        data: dict[str, Any] | None = None,
        bar_time: dt.datetime | None = None,
    ) -> None:
        """Append one audit-trail event (order sent, entry refused, halt, restart, reconciliation...)."""

        def go() -> None:
            with self.engine.begin() as c:
                c.execute(
                    insert(m.events).values(
                        bot_pk=self.pk,
                        kind=kind,
                        message=message,
                        data=data,
                        bar_time=bar_time,
                        created_at=utcnow(),
                    )
                )

        self._guard(go)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The bot's events, oldest first (optionally of one kind)."""

        def go() -> list[dict[str, Any]]:
            q = select(m.events).where(m.events.c.bot_pk == self.pk)
            if kind:
                q = q.where(m.events.c.kind == kind)
            with self.engine.connect() as c:
                return [dict(r) for r in c.execute(q.order_by(m.events.c.id)).mappings()]

        return self._guard(go)

    # ------------------------------------------------------------------ orders and fills
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

    def order_status(self, tag: str, status: str, broker_order_id: str | None = None) -> None:
        """Move an order to ``status`` (Backtrader / broker status name), appending to its history."""

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
    ) -> bool:
        """Commit a fill when it arrives and update the order's filled quantity and average price.

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
                return True
            except IntegrityError:
                return False

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
    def set_position(self, symbol: str, qty: float, avg_price: float) -> None:
        """Upsert the bot's position in ``symbol`` (qty in shares; 0 = flat)."""

        def go() -> None:
            now = utcnow()
            with self.engine.begin() as c:
                done = c.execute(
                    update(m.positions)
                    .where(m.positions.c.bot_pk == self.pk, m.positions.c.symbol == symbol)
                    .values(qty=qty, avg_price=avg_price, updated_at=now)
                ).rowcount
                if not done:
                    c.execute(
                        insert(m.positions).values(
                            bot_pk=self.pk,
                            symbol=symbol,
                            qty=qty,
                            avg_price=avg_price,
                            updated_at=now,
                        )
                    )

        self._guard(go)

    def positions(self) -> list[dict[str, Any]]:
        """The bot's non-flat positions."""

        def go() -> list[dict[str, Any]]:
            with self.engine.connect() as c:
                q = select(m.positions).where(
                    m.positions.c.bot_pk == self.pk, m.positions.c.qty != 0
                )
                return [dict(r) for r in c.execute(q).mappings()]

        return self._guard(go)

    def record_trade(self, entry_tag: str, **fields: Any) -> bool:
        """Commit a closed trade; False when it is already stored (re-processed bar)."""

        def go() -> bool:
            try:
                with self.engine.begin() as c:
                    c.execute(
                        insert(m.trades).values(bot_pk=self.pk, entry_tag=entry_tag, **fields)
                    )
                return True
            except IntegrityError:
                return False

        return self._guard(go)

    def trades(self) -> list[dict[str, Any]]:
        """The bot's closed trades, oldest first."""

        def go() -> list[dict[str, Any]]:
            with self.engine.connect() as c:
                q = (
                    select(m.trades)
                    .where(m.trades.c.bot_pk == self.pk)
                    .order_by(m.trades.c.exit_time, m.trades.c.id)
                )
                return [dict(r) for r in c.execute(q).mappings()]

        return self._guard(go)

    # ------------------------------------------------------------------ checkpoints and equity
    def checkpoint(
        self,
        bar_index: int,
        bar_time: dt.datetime,
        cash: float,
        value: float,
        in_market: bool,
        state: dict[str, Any],
    ) -> None:
        """ONE transaction at the end of a bar: the equity point and the checkpoint."""

        def go() -> None:
            now = utcnow()
            with self.engine.begin() as c:
                c.execute(
                    insert(m.equity).values(
                        bot_pk=self.pk,
                        bar_index=bar_index,
                        bar_time=bar_time,
                        cash=cash,
                        value=value,
                        in_market=int(in_market),
                    )
                )
                done = c.execute(
                    update(m.checkpoints)
                    .where(m.checkpoints.c.bot_pk == self.pk)
                    .values(
                        bar_index=bar_index,
                        bar_time=bar_time,
                        cash=cash,
                        state=state,
                        updated_at=now,
                    )
                ).rowcount
                if not done:
                    c.execute(
                        insert(m.checkpoints).values(
                            bot_pk=self.pk,
                            bar_index=bar_index,
                            bar_time=bar_time,
                            cash=cash,
                            state=state,
                            updated_at=now,
                        )
                    )
                c.execute(update(m.bots).where(m.bots.c.id == self.pk).values(last_heartbeat=now))

        self._guard(go)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The last checkpoint (``bar_index``, ``bar_time``, ``cash``, ``state``...) or None."""

        def go() -> dict[str, Any] | None:
            with self.engine.connect() as c:
                row = (
                    c.execute(select(m.checkpoints).where(m.checkpoints.c.bot_pk == self.pk))
                    .mappings()
                    .first()
                )
                return dict(row) if row else None

        return self._guard(go)

    def equity(self) -> list[dict[str, Any]]:
        """Equity points (bar_index, bar_time UTC, cash, value INR), oldest first."""

        def go() -> list[dict[str, Any]]:
            with self.engine.connect() as c:
                q = (
                    select(m.equity)
                    .where(m.equity.c.bot_pk == self.pk)
                    .order_by(m.equity.c.bar_index)
                )
                return [dict(r) for r in c.execute(q).mappings()]

        return self._guard(go)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
