"""The repository the rest of mixbot uses: one :class:`Store` per bot process.

Write-ahead discipline (issue "Persistence and crash recovery"):

* an order INTENT is committed with its client tag before the order goes to the broker
  (:meth:`Store.record_intent`); tags are deterministic (bot, bar, role), so a re-processed
  bar finds its own earlier intent instead of creating a second one;
* each fill is idempotent on (order tag, fill number) (:meth:`Store.record_fill`); a
  live bot commits it with the bar's next write-ahead intent or its checkpoint, whichever
  comes first (one unit of work, :mod:`mixbot.store.unit`);
* at the end of every bar one transaction writes the bar's writes not committed yet, the
  equity point and the checkpoint (last fully processed bar, broker cash/positions/open
  orders, strategy and risk state).

A restarted bot resumes after the checkpoint's bar; everything it re-does before the
next checkpoint is idempotent.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from mixbot.bus.events import Event
from mixbot.errors import StoreError
from mixbot.store import audit, unit
from mixbot.store import models as m
from mixbot.store.db import _translate, describe, open_engine
from mixbot.store.ledger import Ledger
from mixbot.store.orders import FINAL_STATUSES, OrderBook, utcnow
from mixbot.store.outbox import write_events
from mixbot.store.unit import Write

__all__ = ["FINAL_STATUSES", "Store", "utcnow"]


class Store(OrderBook, Ledger):
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

    def commit(self, writes: Sequence[Write]) -> None:
        """Commit ``writes`` in one transaction, in order (:func:`mixbot.store.unit.commit`;
        each write's ``ok`` says whether it was stored).

        Raises:
            StoreError: the database failed (other than a conflict, which the unit handles).
        """
        self._guard(lambda: unit.commit(self.engine, writes))

    @property
    def pk(self) -> int:
        """The bot's row id in ``bots`` (looked up once).

        Raises:
            StoreError: the bot never ran against this database in this mode.
        """
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
    @staticmethod
    def _next_bar(c: Any, row: Any) -> int:
        """The bar index after every bar the bot's stored session used (its checkpoint, its
        orders, the base it started from)."""
        used = [int(row["bar_base"] or 0) - 1]
        for t in (m.checkpoints, m.orders):
            v = c.execute(select(func.max(t.c.bar_index)).where(t.c.bot_pk == row["id"])).scalar()
            used.append(-1 if v is None else int(v))
        return max(used) + 1

    def register(self, config_hash: str, config_file: str, fresh: bool = False) -> dict[str, Any]:
        """Create or re-open the bot's row and mark it running.

        Returns:
            ``{"resumed": bool, "config_changed": bool}``.

        ``fresh`` deletes every earlier row of this bot in this mode first (a new session),
        and records in ``bar_base`` the bar index after every bar the erased session used (a
        live bot numbers its bars from there, so its order tags never repeat).
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
                base = 0
                if row is not None and fresh:
                    base = self._next_bar(c, row)
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
                    # a new session re-uses tags, so the old events' idempotency keys must go
                    c.execute(
                        delete(m.outbox).where(
                            m.outbox.c.bot_id == self.bot_id, m.outbox.c.mode == self.mode
                        )
                    )
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
                            pid=os.getpid(),
                            host=socket.gethostname(),
                            bar_base=base or None,
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
                    .values(
                        status="running",
                        updated_at=now,
                        pid=os.getpid(),
                        host=socket.gethostname(),
                    )
                )
                return {
                    "resumed": True,
                    "config_changed": changed,
                    "previous_status": row["status"],
                }

        return self._guard(go)

    def set_status(
        self, status: str, feed_state: str | None = None, events: tuple[Event, ...] = ()
    ) -> None:
        """Record the bot's status (running/paused/finished/stopped/error/halted) and feed
        state; ``events`` (``halted``, ``bot_stopped``) commit with it."""
        values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if feed_state is not None:
            values["feed_state"] = feed_state

        def go() -> None:
            with self.engine.begin() as c:
                c.execute(update(m.bots).where(m.bots.c.id == self.pk).values(**values))
                write_events(c, self.bot_id, self.mode, events)

        self._guard(go)

    def feed_state_write(self, feed_state: str, events: tuple[Event, ...] = ()) -> Write:
        """The write of the feed's state (CONNECTED, LIVE, DISCONNECTED, ...); ``events`` (a
        ``feed_state`` event when it changed) commit with it."""
        stmt = update(m.bots).where(m.bots.c.id == self.pk).values(feed_state=feed_state)

        def apply(c: Any) -> None:
            c.execute(stmt)
            write_events(c, self.bot_id, self.mode, events)

        return Write(apply)

    def set_feed_state(self, feed_state: str, events: tuple[Event, ...] = ()) -> None:
        """Commit :meth:`feed_state_write` now."""
        self.commit([self.feed_state_write(feed_state, events)])

    def heartbeat(self, at: dt.datetime | None = None) -> None:
        """Record that the bot was alive at ``at`` (naive UTC; default now). Its control
        thread calls this with the time its engine loop last turned over, so a process
        whose engine is stuck ages like a dead one."""

        def go() -> None:
            with self.engine.begin() as c:
                c.execute(
                    update(m.bots)
                    .where(m.bots.c.id == self.pk)
                    .values(last_heartbeat=at or utcnow())
                )

        self._guard(go)

    def emit(self, events: tuple[Event, ...]) -> None:
        """Write events that report no other stored fact (``bot_started``, ``error``, ...)."""

        def go() -> None:
            with self.engine.begin() as c:
                write_events(c, self.bot_id, self.mode, events)

        self._guard(go)

    def bot_row(self) -> dict[str, Any]:
        """The bot's row as a dict."""

        def go() -> dict[str, Any]:
            with self.engine.connect() as c:
                return dict(
                    c.execute(select(m.bots).where(m.bots.c.id == self.pk)).mappings().one()
                )

        return self._guard(go)

    def warm(self) -> None:
        """Run the statements of a live bar (checkpoint, order intent, status, fill, position,
        trade, audit row, bus event) once with dummy values in a transaction that is rolled
        back: nothing is written. SQLAlchemy compiles a statement on its first use (together
        about 10 ms here); paid before a live session, that cost does not land on the first
        bar or the first fill, when every bot of a host may get its bar at the same instant."""
        from mixbot.bus.events import make

        def go() -> None:
            with self.engine.connect() as c:
                tx = c.begin()
                try:
                    self._warm_ledger(c)
                    self._warm_orders(c)
                    warm_event = make("feed_state", key="__warm__", state="LIVE", previous=None)
                    write_events(c, self.bot_id, self.mode, (warm_event,))
                finally:
                    tx.rollback()

        self._guard(go)

    # ------------------------------------------------------------------ events
    def _audit(
        self,
        c: Any,
        kind: str,
        message: str,
        data: dict[str, Any] | None,
        bar_time: dt.datetime | None,
    ) -> None:
        """Append one row to the bot's hash-chained audit log on connection ``c`` (inside the
        caller's transaction; see :mod:`mixbot.store.audit`)."""
        audit.append(c, self.pk, kind, message, data, bar_time, utcnow())

    def event_write(
        self,
        kind: str,
        message: str,
        data: dict[str, Any] | None = None,
        bar_time: dt.datetime | None = None,
        events: tuple[Event, ...] = (),
    ) -> Write:
        """The write of one audit-trail row (order sent, entry refused, halt, restart,
        reconciliation...); bus ``events`` about the same fact commit with it."""

        def apply(c: Any) -> None:
            write_events(c, self.bot_id, self.mode, events)
            self._audit(c, kind, message, data, bar_time)

        return Write(apply)

    def event(
        self,
        kind: str,
        message: str,
        data: dict[str, Any] | None = None,
        bar_time: dt.datetime | None = None,
        events: tuple[Event, ...] = (),
    ) -> None:
        """Commit :meth:`event_write` now."""
        self.commit([self.event_write(kind, message, data, bar_time, events)])

    def events(self, kind: str | None = None, last: int | None = None) -> list[dict[str, Any]]:
        """The bot's events, oldest first (optionally of one kind; ``last``: only the newest
        ``last`` of them, still oldest first)."""

        def go() -> list[dict[str, Any]]:
            q = select(m.events).where(m.events.c.bot_pk == self.pk)
            if kind:
                q = q.where(m.events.c.kind == kind)
            if last is not None:
                q = q.order_by(m.events.c.id.desc()).limit(last)
                with self.engine.connect() as c:
                    return [dict(r) for r in c.execute(q).mappings()][::-1]
            with self.engine.connect() as c:
                return [dict(r) for r in c.execute(q.order_by(m.events.c.id)).mappings()]

        return self._guard(go)

    # ------------------------------------------------------------------ orders and fills
    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
