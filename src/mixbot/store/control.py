"""The control channel: commands for a running bot, through the store.

Anyone (the CLI, the supervisor, the web app, Telegram) :meth:`ControlChannel.send` s a
command; the bot's control thread :meth:`~ControlChannel.take` s new commands at least every
second, acts, and marks each :meth:`~ControlChannel.done` with a result text. Commands:
``stop`` (finish the current bar, then exit), ``pause`` (no new entries; exits still run),
``resume``, ``force_exit`` (square off the position at market on the next bar) and
``panic`` (square off and halt). ``start`` is for the supervisor (``mixbot serve``): it
starts the bot's process when it is not running.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, insert, select, update

from mixbot.errors import StoreError
from mixbot.store import models as m
from mixbot.store.db import _translate
from mixbot.store.orders import utcnow

#: Commands a bot understands.
COMMANDS = ("stop", "pause", "resume", "force_exit", "panic", "start")


class ControlChannel:
    """Commands for one bot (``bot_id`` in ``mode``) in the database of ``engine``."""

    def __init__(self, engine: Engine, bot_id: str, mode: str, url: str = "") -> None:
        self.engine = engine
        self.bot_id = bot_id
        self.mode = mode
        self.url = url

    def _guard(self, fn: Any) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return fn()
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url) from None

    def send(self, command: str, args: dict[str, Any] | None = None, source: str = "cli") -> int:
        """Queue ``command`` for the bot; returns its id.

        Raises:
            ValueError: unknown command.
            StoreError: the database is unusable.
        """
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")

        def go() -> int:
            with self.engine.begin() as c:
                key = c.execute(
                    insert(m.control_commands).values(
                        bot_id=self.bot_id,
                        mode=self.mode,
                        command=command,
                        args=args,
                        source=source,
                        created_at=utcnow(),
                    )
                ).inserted_primary_key
                assert key is not None
                return int(key[0])

        return int(self._guard(go))

    def take(self, only: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """The commands not yet taken (of the kinds in ``only``, default all but ``start``),
        oldest first, marked taken (each is returned once)."""
        kinds = only or tuple(c for c in COMMANDS if c != "start")

        def go() -> list[dict[str, Any]]:
            with self.engine.begin() as c:
                rows = [
                    dict(r)
                    for r in c.execute(
                        select(m.control_commands)
                        .where(
                            m.control_commands.c.bot_id == self.bot_id,
                            m.control_commands.c.mode == self.mode,
                            m.control_commands.c.taken_at.is_(None),
                            m.control_commands.c.command.in_(kinds),
                        )
                        .order_by(m.control_commands.c.id)
                    ).mappings()
                ]
                if rows:
                    c.execute(
                        update(m.control_commands)
                        .where(m.control_commands.c.id.in_([r["id"] for r in rows]))
                        .values(taken_at=utcnow())
                    )
                return rows

        return list(self._guard(go))

    def done(self, command_id: int, result: str) -> None:
        """Mark a taken command done with a result text for the sender."""

        def go() -> None:
            with self.engine.begin() as c:
                c.execute(
                    update(m.control_commands)
                    .where(m.control_commands.c.id == command_id)
                    .values(done_at=utcnow(), result=result)
                )

        self._guard(go)

    def get(self, command_id: int) -> dict[str, Any] | None:
        """One command's row (``taken_at``/``done_at`` None until the bot took / did it)."""

        def go() -> dict[str, Any] | None:
            with self.engine.connect() as c:
                r = (
                    c.execute(
                        select(m.control_commands).where(m.control_commands.c.id == command_id)
                    )
                    .mappings()
                    .first()
                )
                return dict(r) if r is not None else None

        return self._guard(go)  # type: ignore[no-any-return]

    def pending(self) -> list[dict[str, Any]]:
        """Commands sent but not yet taken (oldest first)."""

        def go() -> list[dict[str, Any]]:
            with self.engine.connect() as c:
                q = select(m.control_commands).where(
                    m.control_commands.c.bot_id == self.bot_id,
                    m.control_commands.c.mode == self.mode,
                    m.control_commands.c.taken_at.is_(None),
                )
                return [dict(r) for r in c.execute(q.order_by(m.control_commands.c.id)).mappings()]

        return list(self._guard(go))

    def discard_pending(self) -> int:
        """Drop commands a previous process never took (a new session starts clean)."""

        def go() -> int:
            with self.engine.begin() as c:
                return int(
                    c.execute(
                        update(m.control_commands)
                        .where(
                            m.control_commands.c.bot_id == self.bot_id,
                            m.control_commands.c.mode == self.mode,
                            m.control_commands.c.taken_at.is_(None),
                            m.control_commands.c.command != "start",
                        )
                        .values(taken_at=utcnow(), done_at=utcnow(), result="discarded")
                    ).rowcount
                )

        return int(self._guard(go))


def age(row: dict[str, Any], now: dt.datetime | None = None) -> float:
    """Seconds since a command was created (UTC)."""
    return ((now or utcnow()) - row["created_at"]).total_seconds()


__all__ = ["COMMANDS", "ControlChannel", "StoreError", "age"]
