"""Positions and orders the bot did not make, seen from the bar loop.

A broker that can see the whole account (Upstox:
:mod:`mixbot.venues.upstox.execution.broker_outside`) offers ``check_outside(data)``,
``outside_due``, ``outside_seen``, ``outside_state`` and ``p.outside_policy``. On every bar
:func:`watch` runs the check when the broker asks for it, reports each change of the
confirmed state once (an ``outside_position`` bus event and audit row, through the bar's unit
of work) and returns why entries are refused under the ``refuse`` policy, or because the
venue refuses to trade now (``entry_block()``: an expired token). Brokers without this
(paper, backtests) are left alone.
"""

from __future__ import annotations

from typing import Any

from mixbot.bus.events import make

#: The hint of every refusal and report.
HINT = 'close it in the Upstox app, or set broker.outside_positions to "ignore"'


def watch(s: Any) -> str | None:
    """Run the outside check for strategy ``s`` when due and report a changed state; returns
    the entry refusal reason under ``refuse`` (None: entries allowed)."""
    b = s.broker
    if not hasattr(b, "check_outside"):
        return None
    block = b.entry_block() if hasattr(b, "entry_block") else None
    if block:
        return str(block)  # the venue refuses to trade now (an expired token)
    if b.outside_due:
        b.check_outside(s.data)
    state = b.outside_state
    if state is not None and state != s.outside_reported:
        first = s.outside_reported is None
        s.outside_reported = state
        if not (first and state.clear):
            _report(s, state, b.p.outside_policy)
    seen = b.outside_seen
    if b.p.outside_policy == "refuse" and seen is not None and not seen.clear:
        return f"{seen.describe(s.cfg.data.symbol)}: {HINT}"
    return None


def _report(s: Any, state: Any, policy: str) -> None:
    symbol = s.cfg.data.symbol
    if state.clear:
        action, msg = "resolved", f"nothing outside the bot on {symbol} any more"
    else:
        action = "entries refused" if policy == "refuse" else "ignored"
        msg = f"{state.describe(symbol)} ({action}; never taken into the bot's position)"
    s.log.warning("OUTSIDE: %s", msg)
    if s.persist is None:
        return
    event = make(
        "outside_position",
        symbol=symbol,
        qty=state.qty,
        orders=list(state.orders),
        action=action,
    )
    data = {"qty": state.qty, "orders": list(state.orders), "action": action}
    s.persist.note("outside_position", msg, s.bar_time(), data, (event,))
