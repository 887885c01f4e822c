"""The event outbox and consumer cursors (the event bus's storage).

Writers call :func:`write_events` inside the transaction of the fact the events report, so a
fact and its event commit together or not at all. Readers (:class:`EventLog`) read every
bot's events in ``seq`` order and keep one cursor per consumer: a consumer that processes
``seq`` and then advances its cursor sees each event once, also across a ``kill -9`` (it
re-reads from its last committed cursor; make the handling idempotent or advance the cursor
in the same transaction as its own effect when it writes to this database).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, text, update

from mixbot.bus.events import Event
from mixbot.errors import StoreError
from mixbot.store import models as m
from mixbot.store.db import _translate, open_engine


def utcnow() -> dt.datetime:
    """Current time, naive UTC (the store's convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


_written = 0


def written_here() -> int:
    """How many events this process has written so far (a cheap "anything new?" check for
    in-process consumers; it counts writes whose transaction may still roll back)."""
    return _written


_X = m.outbox.c
_KEY_SEEN = select(_X.seq).where(
    (_X.bot_id == bindparam("b_bot"))
    & (_X.mode == bindparam("b_mode"))
    & (_X.key == bindparam("b_key"))
)
_EVENT_INSERT = insert(m.outbox).values(
    bot_id=bindparam("b_bot"),
    mode=bindparam("b_mode"),
    type=bindparam("p_type"),
    payload=bindparam("p_payload"),
    key=bindparam("b_key"),
    created_at=bindparam("p_now"),
)


#: The advisory lock ordering event-writing transactions on PostgreSQL (a fixed 64-bit key).
_PG_ORDER_LOCK = text("SELECT pg_advisory_xact_lock(7210642261593149440)")


def write_events(c: Connection, bot_id: str, mode: str, events: Iterable[Event]) -> int:
    """Append ``events`` for the bot on connection ``c`` (inside the caller's transaction).

    An event whose ``key`` the bot already wrote is skipped (checked first, so the caller's
    transaction is never aborted by it). Returns how many were written.

    Order: consumers read ``seq > cursor``, so a ``seq`` must become visible in commit order.
    SQLite has one writer at a time. On PostgreSQL two transactions could take seq 7 and 8
    and commit 8 first, and a consumer reading then would pass 7 for good; a transaction
    writing events therefore first takes a transaction-scoped advisory lock
    (``pg_advisory_xact_lock``, released at its commit or rollback), so event-writing
    transactions commit one after another (PostgreSQL docs, "Advisory Locks").
    """
    events = list(events)
    if not events:
        return 0
    if c.dialect.name == "postgresql":
        c.execute(_PG_ORDER_LOCK)
    n = 0
    now = utcnow()
    for ev in events:
        key = {"b_bot": bot_id, "b_mode": mode, "b_key": ev.key}
        if ev.key is not None and c.execute(_KEY_SEEN, key).first() is not None:
            continue
        payload = {"bot_id": bot_id, "mode": mode, "at": now.isoformat() + "Z", **ev.payload}
        c.execute(_EVENT_INSERT, {**key, "p_type": ev.type, "p_payload": payload, "p_now": now})
        n += 1
    global _written
    _written += n
    return n


class EventLog:
    """Read access to the outbox of a database (all bots) and the consumers' cursors.

    Args:
        url: SQLAlchemy URL; ``engine`` to reuse one.

    Raises:
        StoreError: the database cannot be opened.
    """

    def __init__(self, url: str, engine: Engine | None = None, create: bool = True) -> None:
        self.url = url
        self.engine = engine or open_engine(url, create=create)

    def _guard(self, fn: Any) -> Any:
        try:
            return fn()
        except StoreError:
            raise
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if isinstance(exc, SQLAlchemyError):
                raise _translate(exc, self.url) from None
            raise

    def emit(self, bot_id: str, mode: str, events: Iterable[Event]) -> int:
        """Write events that report no stored fact (supervisor events: started, error, ...)."""

        def go() -> int:
            with self.engine.begin() as c:
                return write_events(c, bot_id, mode, list(events))

        return int(self._guard(go))

    def read(
        self,
        after: int = 0,
        limit: int = 1000,
        bot_ids: Iterable[str] | None = None,
        types: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Events with ``seq > after``, oldest first: dicts of seq, bot_id, mode, type,
        payload, created_at (UTC, naive)."""

        def go() -> list[dict[str, Any]]:
            q = select(m.outbox).where(m.outbox.c.seq > after)
            if bot_ids is not None:
                q = q.where(m.outbox.c.bot_id.in_(list(bot_ids)))
            if types is not None:
                q = q.where(m.outbox.c.type.in_(list(types)))
            with self.engine.connect() as c:
                rows = c.execute(q.order_by(m.outbox.c.seq).limit(limit)).mappings()
                return [dict(r) for r in rows]

        return list(self._guard(go))

    def last_seq(self) -> int:
        """The newest event's sequence number (0 when empty)."""

        def go() -> int:
            with self.engine.connect() as c:
                return int(c.execute(select(func.max(m.outbox.c.seq))).scalar() or 0)

        return int(self._guard(go))

    def cursor(self, consumer: str) -> int:
        """The last ``seq`` the consumer has processed (0 for a new consumer)."""

        def go() -> int:
            with self.engine.connect() as c:
                v = c.execute(
                    select(m.consumer_cursors.c.last_seq).where(
                        m.consumer_cursors.c.consumer == consumer
                    )
                ).scalar()
                return int(v or 0)

        return int(self._guard(go))

    def advance(self, consumer: str, seq: int, c: Connection | None = None) -> None:
        """Record that ``consumer`` processed every event up to ``seq`` (never moves back).
        Pass ``c`` to commit it in the consumer's own transaction."""

        def on(conn: Connection) -> None:
            now = utcnow()
            done = conn.execute(
                update(m.consumer_cursors)
                .where(m.consumer_cursors.c.consumer == consumer)
                .where(m.consumer_cursors.c.last_seq < seq)
                .values(last_seq=seq, updated_at=now)
            ).rowcount
            if not done:
                exists = conn.execute(
                    select(m.consumer_cursors.c.last_seq).where(
                        m.consumer_cursors.c.consumer == consumer
                    )
                ).first()
                if exists is None:
                    conn.execute(
                        insert(m.consumer_cursors).values(
                            consumer=consumer, last_seq=seq, updated_at=now
                        )
                    )

        if c is not None:
            on(c)
            return

        def go() -> None:
            with self.engine.begin() as conn:
                on(conn)

        self._guard(go)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()


def parse_time(v: Any) -> dt.datetime | None:
    """An outbox ``at`` string (ISO UTC with Z) as a naive-UTC datetime."""
    if not v:
        return None
    return dt.datetime.fromisoformat(str(v).rstrip("Z"))
