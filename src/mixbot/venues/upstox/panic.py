"""The kill switch: cancel every open order, exit every open position at MARKET, halt the bot.

:func:`panic` acts on the BROKER's state (the Upstox order book and positions), not on what a
bot process believes, so it works with no bot running and catches orders placed by hand. Each
step goes to the audit trail (store events, when a store is given) and to the returned
:class:`PanicReport`; a failing step (one cancel refused, the database locked) is recorded and
the others still run.

Order of the steps:

1. ``panic`` event, then the bot's status is set to ``halted`` (a running bot that watches
   its status stops opening positions before anything else happens; an order intent the bot
   commits after it is refused: the halt guard), and the bot's order intents committed
   before it are given up to 3 s to reach the venue;
2. every open order of the order book is cancelled (first, so no stop-loss or target can
   fire and double an exit);
3. every non-zero net position (``/v2/portfolio/short-term-positions``) is closed with a
   MARKET order of the opposite side, same product, ``slice=True`` (quantities above the
   exchange freeze quantity are split by Upstox); with a store, an order intent is written
   before each exit is sent (write-ahead, role ``panic_exit``); the bot's own share of a
   position (what its tagged orders bought today) goes out as its own exit (tag
   ``<bot_id>:pn<stamp>``, role ``panic``), so the bot books it on its trade exactly;
4. the order book and positions are read again and anything still open is reported;
5. ``halt`` event with the summary.

Long-term holdings (delivery shares settled in the demat account) are NOT sold.

CLI: ``mixbot panic CONFIG [--yes] [--reason TEXT]`` (:mod:`mixbot.venues.panic`, which
calls :func:`panic_config` through the venue registry).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mixbot.venues.upstox.execution.orders import (
    EXIT_ORDER_TYPE,
    AuditStep,
    OrderApi,
    OrderStateUnknownError,
    PlaceResult,
    exit_side,
    is_open,
)
from mixbot.venues.upstox.http.errors import UpstoxError

log = logging.getLogger(__name__)

EVENT_KIND = "panic"


@dataclass
class PanicStep:
    """One step of a panic: ``action`` (cancel, exit, halt, ...), ``target`` (order id,
    instrument), ``ok`` and details."""

    action: str
    target: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        extra = ", ".join(f"{k}={v}" for k, v in self.detail.items() if k != "steps")
        return f"[{mark}] {self.action} {self.target}" + (f" ({extra})" if extra else "")


@dataclass
class PanicReport:
    """What :func:`panic` did.

    Attributes:
        reason: why.
        steps: every step, in order.
        cancelled: order ids whose cancel Upstox accepted (or that were already final).
        exits: the exit orders placed.
        leftovers: orders / positions still open at the final check.
        halted: the store's status was set to halted (False without a store).
    """

    reason: str
    steps: list[PanicStep] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    exits: list[PlaceResult] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    halted: bool = False

    @property
    def failures(self) -> list[PanicStep]:
        return [s for s in self.steps if not s.ok and s.action != "done"]

    @property
    def ok(self) -> bool:
        """No step failed and nothing was left open."""
        return not self.failures and not self.leftovers


def _exit_tag(prefix: str, stamp: int, i: int) -> str:
    # short and unique per run: Upstox finds a lost exit again by its tag
    return f"{prefix}{stamp:x}{i:02d}"


def panic(
    order_api: OrderApi,
    store: Any = None,
    *,
    reason: str,
    tag_prefix: str = "pn",
    own_prefix: str | None = None,
    market_protection: float | None = None,
    on_step: Callable[[PanicStep], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> PanicReport:
    """Cancel all open orders, exit all positions at MARKET, halt the bot.

    Args:
        order_api: the broker.
        store: a :class:`mixbot.store.repository.Store` of the bot (its row must exist), or
            None (broker only, no audit trail in a database).
        reason: written to the audit trail.
        tag_prefix: start of the exit orders' tags.
        own_prefix: the bot's tag prefix (``"<bot_id>:"``): the part of a position its own
            orders bought today (trade book) goes out as a separate exit tagged
            ``<bot_id>:pn<stamp>`` with role ``panic``, which the bot adopts and books as the
            exit of its trade (:mod:`mixbot.strategy.winddown`); the rest (a manual position)
            goes out under ``tag_prefix``. None: one exit per position.
        market_protection: passed to the exit orders (None: not sent).
        on_step: called with every step as it happens (the CLI prints them).
        clock: wall clock (the exit tags' time stamp).
    """
    report = PanicReport(reason=reason)
    exited: set[str] = set()  # instruments an exit order was placed for

    def audit(kind: str, message: str, data: dict[str, Any]) -> None:
        if store is None:
            return
        try:
            store.event(kind, message, data=_jsonable(data))
        except Exception as exc:  # the database must not stop the kill switch
            log.error("panic: cannot write the audit event %r: %s", message, exc)
            add(PanicStep("audit", kind, False, {"error": str(exc), "message": message}))

    def add(step: PanicStep) -> None:
        report.steps.append(step)
        (log.info if step.ok else log.error)("panic: %s", step.render())
        if on_step is not None:
            on_step(step)

    def record(step: PanicStep, message: str) -> None:
        add(step)
        audit(
            EVENT_KIND,
            message,
            {"action": step.action, "target": step.target, "ok": step.ok, **step.detail},
        )

    # 1. halt first
    record(PanicStep("start", "bot", True, {"reason": reason}), f"PANIC: {reason}")
    if store is not None:
        try:
            store.set_status("halted")
            report.halted = True
            record(PanicStep("halt", "bot", True, {"status": "halted"}), "bot status: halted")
        except Exception as exc:
            record(PanicStep("halt", "bot", False, {"error": str(exc)}), "cannot halt the bot")

    if store is not None and report.halted:
        _let_sends_finish(store, record)

    # 2. cancel every open order
    try:
        book = order_api.order_book()
    except UpstoxError as exc:
        book = []
        record(
            PanicStep("read_orders", "order book", False, {"error": str(exc)}),
            "cannot read the order book",
        )
    else:
        open_orders = [o for o in book if is_open(o)]
        record(
            PanicStep(
                "read_orders", "order book", True, {"orders": len(book), "open": len(open_orders)}
            ),
            f"{len(open_orders)} open order(s) of {len(book)}",
        )
        for o in open_orders:
            oid = str(o.get("order_id"))
            what = {
                "symbol": o.get("trading_symbol") or o.get("instrument_token"),
                "side": o.get("transaction_type"),
                "qty": o.get("quantity"),
                "status": o.get("status"),
                "tag": o.get("tag"),
            }
            try:
                ack = order_api.cancel(oid)
            except UpstoxError as exc:
                record(
                    PanicStep("cancel", oid, False, {**what, "error": str(exc)}),
                    f"cancel {oid} failed",
                )
                continue
            report.cancelled.append(oid)
            # the store's own order (same tag) is updated by the bot's reconciliation when the
            # exchange confirms: an accepted cancel is not yet a cancelled order
            note = {"already_final": ack.final_status} if ack.already_final else {}
            record(PanicStep("cancel", oid, True, {**what, **note}), f"cancelled {oid}")

    # 3. exit every open position at MARKET
    try:
        positions = order_api.positions()
    except UpstoxError as exc:
        positions = []
        record(
            PanicStep("read_positions", "positions", False, {"error": str(exc)}),
            "cannot read the positions",
        )
    else:
        open_pos = [p for p in positions if _net_qty(p) != 0]
        record(
            PanicStep(
                "read_positions",
                "positions",
                True,
                {"positions": len(positions), "open": len(open_pos)},
            ),
            f"{len(open_pos)} open position(s)",
        )
        stamp = int(clock())
        own = _own_shares(order_api, book, own_prefix) if own_prefix else {}
        for i, p in enumerate(open_pos):
            qty = _net_qty(p)
            key = str(p.get("instrument_token") or p.get("instrument_key") or "")
            product = str(p.get("product") or "I").upper()
            mine = own.get((key, product), 0)
            mine = (1 if qty > 0 else -1) * min(abs(mine), abs(qty)) if mine * qty > 0 else 0
            parts = [(mine, f"{own_prefix}pn{stamp:x}", "panic"), (qty - mine, None, "panic_exit")]
            for part, tag, role in parts:
                if not part:
                    continue
                ok = _exit_position(
                    order_api, store, report, record, p, part,
                    tag or _exit_tag(tag_prefix, stamp, i), role, market_protection,
                )  # fmt: skip
                if ok:
                    exited.add(key)

    # 4. what is still open?
    try:
        still = [o for o in order_api.order_book() if is_open(o)]
        exit_ids = {i for r in report.exits for i in r.order_ids}
        for o in still:
            if str(o.get("order_id")) not in exit_ids:
                report.leftovers.append(f"order {o.get('order_id')} ({o.get('status')})")
        for p in order_api.positions():
            key = str(p.get("instrument_token") or p.get("instrument_key") or "")
            if _net_qty(p) != 0 and key not in exited:
                report.leftovers.append(
                    f"position {p.get('trading_symbol') or key} qty {_net_qty(p)}"
                )
        record(
            PanicStep(
                "verify",
                "broker",
                not report.leftovers,
                {
                    "leftovers": report.leftovers,
                    "exit_orders_pending": [
                        str(o.get("order_id")) for o in still if str(o.get("order_id")) in exit_ids
                    ],
                },
            ),
            "final check",
        )
    except UpstoxError as exc:
        record(PanicStep("verify", "broker", False, {"error": str(exc)}), "final check failed")

    # 5. summary
    summary = {
        "reason": reason,
        "cancelled": report.cancelled,
        "exits": [r.order_ids for r in report.exits],
        "failures": [s.render() for s in report.failures],
        "leftovers": report.leftovers,
    }
    add(PanicStep("done", "bot", report.ok, {"failures": len(report.failures)}))
    audit("halt", f"halted by panic: {reason}", summary)
    return report


#: how long the panic waits for the bot's order intents of before the halt to be sent
SEND_WAIT_S = 3.0


def _let_sends_finish(store: Any, record: Callable[[PanicStep, str], None]) -> None:
    """Wait (at most :data:`SEND_WAIT_S`) until no order intent the bot committed before the
    halt is still on its way to the venue (status ``intent``, written in the last minute).

    The halt guard (:meth:`~mixbot.store.orders.OrderBook.halt_guard_write`) makes every
    intent commit either before the halt or not at all; one that committed before may be
    in flight right now, and the order book read next must see it (to cancel it, or to find
    its fills in the trade book) or the bot's exit and the panic's would both sell."""
    deadline = time.monotonic() + SEND_WAIT_S
    while True:
        try:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            pending = [
                o["tag"]
                for o in store.orders()
                if o["status"] == "intent"
                and o["bar_index"] >= 0
                and (now - o["created_at"]).total_seconds() < 60
            ]
        except Exception as exc:
            log.error("panic: cannot read the bot's orders (%s): not waiting for its sends", exc)
            return
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if pending:
        record(
            PanicStep("wait_sends", "bot", False, {"still_unsent": pending}),
            f"{len(pending)} order(s) of the bot still on their way after {SEND_WAIT_S:g} s",
        )


def _own_shares(
    order_api: OrderApi, book: list[dict[str, Any]], prefix: str
) -> dict[tuple[str, str], int]:
    """Net shares bought (+) / sold (-) today by the bot's own orders (tag ``prefix``...) per
    (instrument key, product), from the day's trade book; {} when it cannot be read."""
    tags = {str(o.get("order_id")): str(o.get("tag") or "") for o in book}
    try:
        trades = order_api.trades_for_day()
    except UpstoxError as exc:
        log.error("panic: cannot read the trade book (%s): the whole position goes out as one", exc)
        return {}
    own: dict[tuple[str, str], int] = {}
    for t in trades:
        if not tags.get(str(t.get("order_id")), "").startswith(prefix):
            continue
        k = (str(t.get("instrument_token") or ""), str(t.get("product") or "I").upper())
        q = int(t.get("quantity") or 0)
        own[k] = own.get(k, 0) + (q if str(t.get("transaction_type")).upper() == "BUY" else -q)
    return own


def _exit_position(
    order_api: OrderApi,
    store: Any,
    report: PanicReport,
    record: Callable[[PanicStep, str], None],
    p: dict[str, Any],
    qty: int,
    tag: str,
    role: str,
    market_protection: float | None,
) -> bool:
    """Close ``qty`` (signed, as held) of position row ``p`` at MARKET under ``tag``, the
    intent written first (``role``); True when the exit order was placed."""
    key = str(p.get("instrument_token") or p.get("instrument_key") or "")
    symbol = str(p.get("trading_symbol") or p.get("tradingsymbol") or key)
    side = exit_side(qty)
    product = str(p.get("product") or "I").upper()
    what = {"instrument": key, "symbol": symbol, "side": side, "qty": abs(qty)}
    what.update(product=product, tag=tag, role=role)
    if store is not None:
        try:
            store.record_intent(
                tag, symbol=symbol, role=role, side=side, order_type="Market",  # (the store's name)
                qty=abs(qty), price=None, bar_index=-1, bar_time=None,
            )  # fmt: skip
        except Exception as exc:
            record(PanicStep("audit", tag, False, {"error": str(exc)}), f"intent {tag} failed")
    try:
        result = order_api.place(
            instrument_key=key, side=side, qty=abs(qty), order_type=EXIT_ORDER_TYPE,
            product=product, validity="DAY", tag=tag, slice=True,
            market_protection=market_protection,
        )  # fmt: skip
    except (UpstoxError, ValueError) as exc:
        if not isinstance(exc, OrderStateUnknownError):  # else it may exist: keep it
            refused = isinstance(exc, UpstoxError) and (exc.status or 0) in range(400, 500)
            _store_status(store, tag, "Rejected" if refused else "Abandoned")
        record(
            PanicStep("exit", symbol, False, {**what, "error": str(exc)}),
            f"exit {symbol} failed",
        )
        return False
    report.exits.append(result)
    _store_status(store, tag, "Submitted", result.order_id)
    detail = {"order_ids": result.order_ids, "recovered": result.recovered}
    detail["steps"] = [s.as_dict() for s in result.steps]
    record(
        PanicStep("exit", symbol, True, {**what, **detail}),
        f"exit {symbol}: {side} {abs(qty)} at MARKET ({role})",
    )
    return True


def _net_qty(p: dict[str, Any]) -> int:
    try:
        return int(float(p.get("quantity") or 0))
    except (TypeError, ValueError):
        return 0


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return out


def _store_status(store: Any, tag: str, status: str, broker_id: str | None = None) -> None:
    if store is None:
        return
    try:
        store.order_status(tag, status, broker_id)
    except Exception as exc:
        log.error("panic: cannot record order %s as %s: %s", tag, status, exc)


# ----------------------------------------------------------------------------- venue hook


def panic_config(
    cfg: Any,
    *,
    reason: str,
    confirm: Callable[[str], bool],
    say: Callable[..., None],
    database_url: str | None = None,
) -> int:
    """The Upstox venue's panic hook (:class:`mixbot.venues.base.PanicHook`): :func:`panic` on
    the account of ``cfg`` (broker upstox or upstox_sandbox) with the bot's live store.

    ``confirm`` is asked once before anything is sent (False: nothing is done, returns 1);
    ``say`` gets each step and the summary (``err=True`` for problems). Returns 0 when the
    bot is halted with nothing left open, else 1. ``database_url``: the bot's store
    (default: the config's live store).
    """
    from mixbot.config.digest import config_hash
    from mixbot.config.secrets import broker_secret, load_dotenv_once
    from mixbot.store.db import resolve_url
    from mixbot.store.repository import Store
    from mixbot.venues.upstox.config import UpstoxBrokerConfig
    from mixbot.venues.upstox.http.client import UpstoxClient

    kind = cfg.broker.type
    load_dotenv_once(cfg.source_file.parent)
    u = UpstoxBrokerConfig.of(cfg)
    token = broker_secret(cfg, "access_token")  # None: the login token file
    sandbox_token = broker_secret(cfg, "sandbox_token") if u.sandbox else None

    client = UpstoxClient(token=token)
    api = OrderApi(client, algo_name=u.algo_name, sandbox=u.sandbox, sandbox_token=sandbox_token)
    url = database_url or resolve_url(cfg.database_url, "live")
    store = Store(url, cfg.bot_id, "live")
    try:
        if store.find_bot() is None:
            store.register(config_hash(cfg), str(cfg.source_file))
        say(
            f"PANIC for bot {cfg.bot_id!r} ({kind}): cancel every open order and exit every "
            f"position of the Upstox account at MARKET, then halt the bot."
        )
        if u.sandbox:
            say(
                "note: sandbox mode: orders go to the sandbox, but the order book and "
                "positions read are the LIVE account's (Upstox has no sandbox reads)"
            )
        if not confirm("Type 'yes' to go on: "):
            say("aborted: nothing was done")
            return 1
        report = panic(
            api,
            store,
            reason=reason,
            own_prefix=f"{cfg.bot_id}:",
            on_step=lambda s: say(s.render()),
        )
    finally:
        client.close()
        store.close()
    if report.ok:
        say("done: bot halted, no open order or position left")
        return 0
    say(
        f"done WITH PROBLEMS ({len(report.failures)} failed step(s)); check the Upstox "
        "order book and positions now",
        err=True,
    )
    for line in report.leftovers:
        say(f"  still open: {line}", err=True)
    return 1


__all__ = ["AuditStep", "PanicReport", "PanicStep", "panic", "panic_config"]
