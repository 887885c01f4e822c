"""The notification outbox: rendered messages committed before they are sent.

A router reads the event bus (:class:`~mixbot.store.outbox.EventLog`) after its cursor and,
in ONE transaction, adds a row per (event, channel, destination) and advances its cursor:
an event is queued exactly once, also across a ``kill -9``. A sender takes due rows
(``sent_at`` and ``gave_up_at`` empty, ``next_at`` reached), sends them in ``id`` order and
marks each sent, or records the failure and the next try. Times are naive UTC (the store's
convention).

Delivery is at-least-once: a process killed after the server accepted a message but before
its ``sent_at`` committed sends it again on restart (no chat or mail protocol can take an
idempotency key; the email's ``Message-ID`` is the row's key, so mail clients fold a repeat).
The window is one network round trip.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from mixbot.store import models as m
from mixbot.store.db import _translate
from mixbot.store.outbox import EventLog

_N = m.notifications.c
#: Between two messages joined into one batch (plain text).
BATCH_SEP = "\n\n----\n\n"


@dataclass(frozen=True)
class Outgoing:
    """One message to queue.

    Attributes:
        event_seq: the bus event's ``seq``; bot_id, event_type: from the event.
        channel: ``"telegram"`` or ``"email"``; dest: a chat id, or comma-joined addresses.
        silent: Telegram ``disable_notification`` (no sound).
        subject, text, html: the rendered message (plain text and its HTML form).
        batch_s: storm control: at most one message like it per this many seconds, the
            rest joined into the next one (None: every message on its own).
    """

    event_seq: int
    bot_id: str
    event_type: str
    channel: str
    dest: str
    silent: bool
    subject: str
    text: str
    html: str
    batch_s: float | None = None

    @property
    def key(self) -> str:
        """The idempotency key: ``<seq>:<channel>:<dest>``."""
        return f"{self.event_seq}:{self.channel}:{self.dest}"


class NotificationQueue:
    """The ``notifications`` table of one database.

    Args:
        log: the database's event log (its engine is used; cursors live there too).
    """

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.engine: Engine = log.engine

    def _guard(self, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if isinstance(exc, SQLAlchemyError):
                raise _translate(exc, self.log.url) from None
            raise

    def enqueue(
        self, consumer: str, upto_seq: int, rows: Iterable[Outgoing], now: dt.datetime
    ) -> int:
        """Queue ``rows`` and move ``consumer``'s cursor to ``upto_seq`` in one transaction.
        Rows whose key is queued already are skipped; a row with ``batch_s`` may join a
        waiting batch (:meth:`_batched`). Returns how many were added or joined."""
        items = list(rows)

        def go() -> int:
            with self.engine.begin() as c:
                keys = [o.key for o in items]
                seen = set()
                if keys:
                    seen = set(c.execute(select(_N.key).where(_N.key.in_(keys))).scalars())
                fresh = [o for o in items if o.key not in seen]
                for o in fresh:
                    due = self._batched(c, o, now) if o.batch_s else now
                    if due is None:
                        continue  # joined the waiting batch
                    c.execute(
                        insert(m.notifications).values(
                            key=o.key,
                            event_seq=o.event_seq,
                            bot_id=o.bot_id,
                            channel=o.channel,
                            dest=o.dest,
                            event_type=o.event_type,
                            silent=o.silent,
                            subject=o.subject,
                            text=o.text,
                            html=o.html,
                            created_at=now,
                            next_at=due,
                            attempts=0,
                        )
                    )
                self.log.advance(consumer, upto_seq, c)
                return len(fresh)

        return int(self._guard(go))

    def _batched(self, c: Connection, o: Outgoing, now: dt.datetime) -> dt.datetime | None:
        """Storm control for ``o`` (``batch_s`` set): at most one message of its bot, channel,
        destination and event type per ``batch_s`` seconds. Returns when to send it as a new
        row (now, or when the window of the last one ends), or None when it was appended to
        a batch that is still waiting (its subject then counts the messages)."""
        last = (
            c.execute(
                select(m.notifications)
                .where(_N.bot_id == o.bot_id, _N.channel == o.channel)
                .where(_N.dest == o.dest, _N.event_type == o.event_type)
                .order_by(_N.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        window = float(o.batch_s or 0.0)
        if last is None:
            return now
        went = last["sent_at"] or last["next_at"]  # the last one's send (or due) time
        window_end = max(went, last["created_at"]) + dt.timedelta(seconds=window)
        if last["sent_at"] is None and last["gave_up_at"] is None and last["next_at"] > now:
            n = last["text"].count(BATCH_SEP) + 2
            c.execute(
                update(m.notifications)
                .where(_N.id == last["id"])
                .values(
                    subject=f"[{o.bot_id}] {n} {o.event_type} events in {window / 60:.0f} min",
                    text=last["text"] + BATCH_SEP + o.text,
                    html=last["html"] + "<hr>" + o.html,
                )
            )
            return None
        return window_end if now < window_end else now

    def due(
        self, now: dt.datetime, channel: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Unsent rows whose ``next_at`` <= ``now``: the oldest waiting row of each
        destination, oldest first (dicts of the columns).

        One row per destination and call, so that one chat or mailbox gets its messages in
        event order; a destination whose oldest row waits to retry sends nothing until it
        went. A batch held back by storm control (never tried, ``next_at`` ahead) holds up
        nothing. However many rows one dead destination has, the others are not starved."""

        def go() -> list[dict[str, Any]]:
            open_ = and_(_N.sent_at.is_(None), _N.gave_up_at.is_(None))
            held = and_(_N.attempts == 0, _N.next_at > now)
            heads = select(func.min(_N.id)).where(open_, ~held).group_by(_N.channel, _N.dest)
            if channel is not None:
                heads = heads.where(_N.channel == channel)
            q = (
                select(m.notifications)
                .where(_N.id.in_(heads.scalar_subquery()), _N.next_at <= now)
                .order_by(_N.id)
                .limit(limit)
            )
            with self.engine.connect() as c:
                return [dict(r) for r in c.execute(q).mappings()]

        return list(self._guard(go))

    def mark_sent(self, row_id: int, now: dt.datetime) -> None:
        """Record that the server accepted row ``row_id``."""
        self._set(row_id, sent_at=now, attempts=_N.attempts + 1)

    def mark_failed(self, row_id: int, error: str, next_at: dt.datetime) -> None:
        """Record a failed try (``error`` must hold no secret) and when to try again."""
        self._set(row_id, last_error=error[:500], next_at=next_at, attempts=_N.attempts + 1)

    def give_up(self, row_id: int, error: str, now: dt.datetime) -> None:
        """Stop trying row ``row_id`` (too old)."""
        self._set(row_id, last_error=error[:500], gave_up_at=now)

    def _set(self, row_id: int, **values: Any) -> None:
        def go() -> None:
            with self.engine.begin() as c:
                c.execute(update(m.notifications).where(_N.id == row_id).values(**values))

        self._guard(go)

    def rows(self, bot_id: str | None = None) -> list[dict[str, Any]]:
        """Every row (optionally of one bot), in ``id`` order: for status and tests."""

        def go() -> list[dict[str, Any]]:
            q = select(m.notifications)
            if bot_id is not None:
                q = q.where(_N.bot_id == bot_id)
            with self.engine.connect() as c:
                return [dict(r) for r in c.execute(q.order_by(_N.id)).mappings()]

        return list(self._guard(go))

    def pending(self) -> int:
        """How many rows are neither sent nor given up."""

        def go() -> int:
            with self.engine.connect() as c:
                q = select(func.count()).where(and_(_N.sent_at.is_(None), _N.gave_up_at.is_(None)))
                return int(c.execute(q.select_from(m.notifications)).scalar() or 0)

        return int(self._guard(go))
