"""The ONE status model of a bot (:class:`BotStatus`): what ``mixbot status`` shows, the final
status ``mixbot run`` prints, and what the REST API, the GUI and Telegram report.

Built from the store (:func:`from_store`), so it answers whether the bot is running,
finished or was killed. Money in INR, quantities in shares, times ISO-8601 in the market's
time zone (IST for NSE).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

#: A running bot whose heartbeat is older than this is reported as possibly dead or hung.
STALE_AFTER = dt.timedelta(minutes=2)


def to_market_time(when: dt.datetime | None, tz: str) -> str | None:
    """ISO text in ``tz`` of a naive-UTC datetime (None passes through)."""
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


@dataclass
class BotStatus:
    """One bot's state.

    ``status``: running | paused | finished | stopped | error | halted | never run, with a
    "running?" note when the process is gone or silent. ``pid``/``host``: the process that
    last ran it; ``running``: True when a process holds the bot's lock on this host now.
    ``last_heartbeat``: when that process last said it was alive (market time).
    """

    bot_id: str
    mode: str
    config_file: str
    status: str
    running: bool = False
    pid: int | None = None
    host: str | None = None
    last_heartbeat: str | None = None
    heartbeat_age_s: float | None = None
    feed_state: str | None = None
    last_bar_processed: dict[str, Any] | None = None
    cash: float | None = None
    value: float | None = None
    initial_balance: float | None = None
    positions: list[dict[str, Any]] = field(default_factory=list)
    open_orders: list[dict[str, Any]] = field(default_factory=list)
    today: dict[str, Any] = field(default_factory=dict)
    halts: list[str] = field(default_factory=list)
    trades_closed: int = 0
    realized_pnl_total: float = 0.0
    recent_events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    #: what the venue account holds on the bot's instrument that the bot did not make, as
    #: last reported (None: nothing, or resolved); see mixbot.strategy.outside
    outside: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        return asdict(self)


def never_run(cfg: Any, mode: str, note: str = "never run") -> BotStatus:
    """The status of a bot that has no rows in its store yet."""
    return BotStatus(
        bot_id=cfg.bot_id,
        mode=mode,
        config_file=str(cfg.source_file),
        status=note,
        initial_balance=cfg.broker.initial_balance,
    )


def from_store(cfg: Any, store: Any, holder_pid: int | None = None) -> BotStatus:
    """The bot's status from its :class:`~mixbot.store.repository.Store`.

    ``holder_pid``: the pid holding the bot's lock now (None: no process runs it here).
    """
    from mixbot.store.repository import utcnow

    tz = cfg.market.timezone
    bot = store.bot_row()
    ck = store.load_checkpoint()
    equity_last = store.last_equity()
    state = bot["status"]
    beat = max(
        (t for t in ((ck or {}).get("updated_at"), bot.get("last_heartbeat")) if t), default=None
    )
    age = (utcnow() - beat).total_seconds() if beat is not None else None
    running = holder_pid is not None
    if state in ("running", "paused", "waiting") and not running and age is not None:
        state = (
            f"{state}? no process holds the bot's lock (killed; a restart resumes), "
            f"last heartbeat {int(age // 60)} min ago"
        )
    elif (
        state in ("running", "paused", "waiting")
        and age is not None
        and age > STALE_AFTER.total_seconds()
    ):
        state = f"{state}? no heartbeat for {int(age // 60)} min (hung?)"
    risk = (ck or {}).get("state", {}).get("risk", {})
    today = risk.get("today", {})
    trades = store.trades()
    outside = store.events("outside_position", last=1)
    return BotStatus(
        bot_id=cfg.bot_id,
        mode=store.mode,
        config_file=bot["config_file"],
        status=state,
        running=running,
        pid=holder_pid if running else bot.get("pid"),
        host=bot.get("host"),
        last_heartbeat=to_market_time(beat, tz),
        heartbeat_age_s=round(age, 1) if age is not None else None,
        feed_state=bot.get("feed_state"),
        last_bar_processed=None
        if ck is None
        else {"index": ck["bar_index"], "time": to_market_time(ck["bar_time"], tz)},
        cash=None if ck is None else round(ck["cash"], 2),
        value=round(equity_last["value"], 2) if equity_last else None,
        initial_balance=cfg.broker.initial_balance,
        positions=[
            {"symbol": p["symbol"], "qty": p["qty"], "avg_price": round(p["avg_price"], 2)}
            for p in store.positions()
        ],
        open_orders=[
            {
                "tag": o["tag"],
                "role": o["role"],
                "side": o["side"],
                "type": o["order_type"],
                "qty": o["qty_requested"],
                "price": o["price_requested"],
                "status": o["status"],
            }
            for o in store.orders(open_only=True)
        ],
        today={
            "date": today.get("day"),
            "entries": today.get("entries", 0),
            "realized_pnl": round(today.get("realized_pnl", 0.0), 2),
        },
        halts=[risk["halt_reason"]] if risk.get("halted") else [],
        trades_closed=len(trades),
        realized_pnl_total=round(sum(t["pnl_net"] for t in trades), 2),
        recent_events=[
            {"kind": e["kind"], "message": e["message"], "at": to_market_time(e["created_at"], tz)}
            for e in store.events(last=5)
        ],
        outside=outside[0]["message"]
        if outside and (outside[0]["data"] or {}).get("action") != "resolved"
        else None,
    )
