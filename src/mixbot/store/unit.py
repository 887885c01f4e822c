"""A unit of work: several writes of one bot committed in ONE transaction, in order.

A live bar used to commit each fact on its own (the fill, the position, the trade, every
order intent, then the checkpoint). With 20 bots on one SQLite file that is 100 commits
through its single writer on a bar where all of them fill. The strategy's
:class:`~mixbot.strategy.persistence.Persistence` now collects the writes of a bar as
:class:`Write` objects and commits them with the next write that must reach the disk
before anything else happens: an order intent (write-ahead: before the order is sent) or
the bar's checkpoint.

Why this is as crash-safe as committing each fact at once: the writes commit in the order
they were made, so what the store holds after a ``kill -9`` is always a prefix of the
sequence the one-by-one code would have committed. Every such prefix was a possible state
before (the process could die between any two of those transactions) and recovery
handles each of them; fewer of them are now visible, none is new.

Conflicts: a re-processed bar after a restart writes rows that may be stored already (an
intent's tag, a fill's ``(tag, seq)``, a trade's entry tag). When the unit's transaction
hits an :class:`~sqlalchemy.exc.IntegrityError` it is rolled back and its writes are
committed one by one, each conflict handled by the write's ``on_conflict`` (e.g. a fill
stored before: only the order's status changes). That slow path runs only after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

__all__ = ["Write", "commit"]


class Write:
    """One write of a unit of work.

    Args:
        apply: runs the write's statements on a connection inside the unit's transaction.
        on_conflict: run in a transaction of its own when ``apply`` hit an IntegrityError in
            the one-by-one path (the row exists: a re-processed bar); None = nothing to do.

    After :func:`commit`, ``ok`` is True when ``apply`` committed, False when it conflicted.
    """

    __slots__ = ("apply", "ok", "on_conflict")

    def __init__(
        self, apply: Callable[[Any], None], on_conflict: Callable[[Any], None] | None = None
    ) -> None:
        self.apply = apply
        self.on_conflict = on_conflict
        self.ok = False


def commit(engine: Engine, writes: Sequence[Write]) -> None:
    """Commit ``writes`` in one transaction, in order; on a conflict, one by one (module doc).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: any database error but a conflict (the caller's
            ``_guard`` turns it into a :class:`~mixbot.errors.StoreError`).
    """
    if not writes:
        return
    try:
        with engine.begin() as c:
            for w in writes:
                w.apply(c)
    except IntegrityError:
        pass
    else:
        for w in writes:
            w.ok = True
        return
    for w in writes:  # the slow path: a re-processed bar after a restart
        try:
            with engine.begin() as c:
                w.apply(c)
            w.ok = True
        except IntegrityError:
            w.ok = False
            if w.on_conflict is not None:
                with engine.begin() as c:
                    w.on_conflict(c)
