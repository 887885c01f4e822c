"""Positions, closed trades, equity points and per-bar checkpoints of one bot.

Part of :class:`mixbot.store.repository.Store` (a mixin: it uses the store's ``engine``,
``pk`` and ``_guard``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update

from mixbot.bus.events import Event
from mixbot.store import models as m
from mixbot.store.orders import utcnow
from mixbot.store.outbox import write_events
from mixbot.store.unit import Write

# Statements built once (building them per bar costs more than executing them).
_EQUITY_INSERT = insert(m.equity).values(
    bot_pk=bindparam("b_pk"),
    bar_index=bindparam("p_bar_index"),
    bar_time=bindparam("p_bar_time"),
    cash=bindparam("p_cash"),
    value=bindparam("p_value"),
    in_market=bindparam("p_in_market"),
)
_CHECKPOINT_UPDATE = (
    update(m.checkpoints)
    .where(m.checkpoints.c.bot_pk == bindparam("b_pk"))
    .values(
        bar_index=bindparam("p_bar_index"),
        bar_time=bindparam("p_bar_time"),
        cash=bindparam("p_cash"),
        state=bindparam("p_state"),
        updated_at=bindparam("p_updated_at"),
    )
)
_CHECKPOINT_INSERT = insert(m.checkpoints).values(
    bot_pk=bindparam("b_pk"),
    bar_index=bindparam("p_bar_index"),
    bar_time=bindparam("p_bar_time"),
    cash=bindparam("p_cash"),
    state=bindparam("p_state"),
    updated_at=bindparam("p_updated_at"),
)
_HEARTBEAT = (
    update(m.bots)
    .where(m.bots.c.id == bindparam("b_pk"))
    .values(last_heartbeat=bindparam("p_updated_at"))
)


_P = m.positions.c
_POSITION_UPDATE = (
    update(m.positions)
    .where((_P.bot_pk == bindparam("b_pk")) & (_P.symbol == bindparam("b_symbol")))
    .values(qty=bindparam("p_qty"), avg_price=bindparam("p_avg"), updated_at=bindparam("p_now"))
)
_POSITION_INSERT = insert(m.positions).values(
    bot_pk=bindparam("b_pk"),
    symbol=bindparam("b_symbol"),
    qty=bindparam("p_qty"),
    avg_price=bindparam("p_avg"),
    updated_at=bindparam("p_now"),
)
_TRADE_INSERT = insert(m.trades)


def _write_position(c: Any, params: dict[str, Any]) -> None:
    """Upsert a position row on connection ``c`` (params: b_pk, b_symbol, p_qty, p_avg, p_now)."""
    if not c.execute(_POSITION_UPDATE, params).rowcount:
        c.execute(_POSITION_INSERT, params)


def _write_checkpoint(c: Any, params: dict[str, Any], beat: bool) -> None:
    """The end-of-bar statements on connection ``c`` (inside the caller's transaction):
    the equity point, the checkpoint (updated, or inserted when the bot has none yet) and
    the heartbeat when ``beat``."""
    c.execute(_EQUITY_INSERT, params)
    if not c.execute(_CHECKPOINT_UPDATE, params).rowcount:
        c.execute(_CHECKPOINT_INSERT, params)
    if beat:
        c.execute(_HEARTBEAT, params)


class Ledger:
    """What the bot holds and has done: positions, trades, equity, checkpoints."""

    engine: Engine
    bot_id: str
    mode: str
    _beat: dt.datetime | None = None  # last heartbeat written (UTC)

    @property
    def pk(self) -> int:  # provided by Store
        raise NotImplementedError

    def _guard(self, fn: Any) -> Any:  # provided by Store
        raise NotImplementedError

    def commit(self, writes: Any) -> None:  # provided by Store
        raise NotImplementedError

    def position_write(
        self, symbol: str, qty: float, avg_price: float, events: tuple[Event, ...] = ()
    ) -> Write:
        """The upsert of the bot's position in ``symbol`` (qty in shares, 0 = flat; average
        price INR); ``events`` (e.g. ``trade_entry``) commit with it."""
        params = {"b_pk": self.pk, "b_symbol": symbol, "p_qty": qty, "p_avg": avg_price}

        def apply(c: Any) -> None:
            write_events(c, self.bot_id, self.mode, events)
            _write_position(c, {**params, "p_now": utcnow()})

        return Write(apply)

    def set_position(
        self, symbol: str, qty: float, avg_price: float, events: tuple[Event, ...] = ()
    ) -> None:
        """Commit :meth:`position_write` now."""
        self.commit([self.position_write(symbol, qty, avg_price, events)])

    def positions(self) -> list[dict[str, Any]]:
        """The bot's non-flat positions."""

        def go() -> list[dict[str, Any]]:
            with self.engine.connect() as c:
                q = select(m.positions).where(
                    m.positions.c.bot_pk == self.pk, m.positions.c.qty != 0
                )
                return [dict(r) for r in c.execute(q).mappings()]

        return self._guard(go)

    def trade_write(self, entry_tag: str, events: tuple[Event, ...] = (), **fields: Any) -> Write:
        """The insert of a closed trade (``fields``: the ``trades`` columns) and its
        ``events`` (``trade_exit``); when the trade is stored already (a re-processed bar)
        nothing is written and ``ok`` is False after the commit."""
        row = {"bot_pk": self.pk, "entry_tag": entry_tag, **fields}

        def apply(c: Any) -> None:
            c.execute(_TRADE_INSERT, row)
            write_events(c, self.bot_id, self.mode, events)

        return Write(apply)

    def record_trade(self, entry_tag: str, events: tuple[Event, ...] = (), **fields: Any) -> bool:
        """Commit :meth:`trade_write` now; False (and nothing written) when it is already
        stored."""
        w = self.trade_write(entry_tag, events, **fields)
        self.commit([w])
        return w.ok

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
        events: tuple[Event, ...] = (),
        before: Sequence[Write] = (),
    ) -> None:
        """ONE transaction at the end of a bar: the writes of the bar not committed yet
        (``before``, in order: status changes, fills, positions, trades, see
        :mod:`mixbot.store.unit`), the equity point (cash, value INR), the checkpoint and the
        bar's ``events`` (e.g. ``daily_summary`` when the bar closed a day)."""
        now = utcnow()
        params = {  # keys are the bindparam names of the statements above
            "b_pk": self.pk,
            "p_bar_index": bar_index,
            "p_bar_time": bar_time,
            "p_cash": cash,
            "p_value": value,
            "p_in_market": int(in_market),
            "p_state": state,
            "p_updated_at": now,
        }
        beat = self._beat is None or (now - self._beat).total_seconds() >= 5.0

        def apply(c: Any) -> None:
            _write_checkpoint(c, params, beat)
            if events:
                write_events(c, self.bot_id, self.mode, events)

        self.commit([*before, Write(apply)])
        if beat:
            self._beat = now

    def _warm_ledger(self, c: Any) -> None:
        """Run the end-of-bar, position and trade statements on ``c`` with dummy values
        (the caller rolls back): see :meth:`~mixbot.store.repository.Store.warm`."""
        now = utcnow()
        params = {
            "b_pk": self.pk,
            "p_bar_index": -1,
            "p_bar_time": now,
            "p_cash": 0.0,
            "p_value": 0.0,
            "p_in_market": 0,
            "p_state": {},
            "p_updated_at": now,
        }
        _write_checkpoint(c, params, beat=True)
        pos = {"b_pk": self.pk, "b_symbol": "__warm__", "p_qty": 0.0, "p_avg": 0.0, "p_now": now}
        _write_position(c, pos)
        trade = dict.fromkeys(("qty", "entry_price", "exit_price", "pnl_gross", "charges"), 0.0)
        c.execute(
            _TRADE_INSERT,
            {
                "bot_pk": self.pk,
                "entry_tag": "__warm__",
                "symbol": "__warm__",
                "side": "long",
                "entry_time": now,
                "exit_time": now,
                "pnl_net": 0.0,
                "exit_reason": "warm",
                "bars_held": 0,
                **trade,
            },
        )

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

    def last_equity(self) -> dict[str, Any] | None:
        """The newest equity point (bar_index, bar_time UTC, cash, value INR), or None."""

        def go() -> dict[str, Any] | None:
            with self.engine.connect() as c:
                q = (
                    select(m.equity)
                    .where(m.equity.c.bot_pk == self.pk)
                    .order_by(m.equity.c.bar_index.desc())
                    .limit(1)
                )
                r = c.execute(q).mappings().first()
                return dict(r) if r is not None else None

        return self._guard(go)  # type: ignore[no-any-return]
