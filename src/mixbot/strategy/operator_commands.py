"""The operator's commands to a running bot, acted on at the start of a bar: ``panic`` (halt
and square off through the bot's own exit), ``resume`` (clear a halt) and ``force_exit``
(close the position now). They arrive through the control channel
(:class:`~mixbot.service.control.ControlThread` sets ``controls``)."""

from __future__ import annotations

from typing import Any


def act(s: Any, controls: Any, pos: float) -> bool:
    """Act on the operator's ``panic`` (halt + square off), ``resume`` (clear the halt) and
    ``force_exit`` commands for CustomStrategy ``s``, holding ``pos`` shares; True when this
    bar's decisions are taken by them."""
    if controls.halt:
        msg = f"halted by the operator: {controls.halt}"
        controls.halt = None
        s.rt.risk.halt(msg)
        s.log.warning("HALT: %s; squaring off and taking no new entries", msg)
        s._event("halt", reason=msg)
        if s.persist is not None:
            s.persist.halt(msg, s._bar_time())
        if pos and not s.orders.exiting:
            s._exit("panic")
        return True
    if controls.unhalt:
        controls.unhalt = False
        risk = s.rt.risk
        if risk.state.halted:
            was = risk.state.halt_reason
            risk.state.halted, risk.state.halt_reason = False, ""
            s.log.warning("halt cleared by the operator (was: %s)", was)
            s._event("halt_cleared", reason=was)
            if s.persist is not None:
                s.persist.event("halt_cleared", f"halt cleared by the operator: {was}")
    if controls.force_exit:
        reason = controls.force_exit
        controls.force_exit = None
        if pos and not s.orders.exiting:
            s._exit(reason)
            return True
    return False
