"""The daily summary: at ``email.daily_summary_at`` (exchange time) on each trading day, a
``daily_summary`` event per bot, delivered like every alert (email with the day's equity
curve as a PNG attachment, Telegram as text).

Trading days come from the bot's market calendar (:mod:`mixbot.market.calendar`; a market
without one: Monday to Friday). The event's key is ``daily_summary:<day>``, the same key a
bot gives the summary it writes when a session day ends, so each bot has ONE summary per
day whichever comes first, also across restarts.

Payload: :func:`mixbot.bus.events.daily_summary`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from mixbot.bus.events import daily_summary
from mixbot.clock import SYSTEM_CLOCK, Clock
from mixbot.market.calendar import CalendarCoverageError, calendar_for
from mixbot.market.registry import profile_for
from mixbot.store.outbox import EventLog

log = logging.getLogger("mixbot.notify")


def summary_event(service: Any, ref: Any, day: dt.date) -> Any:
    """The ``daily_summary`` event of bot ``ref`` for exchange date ``day``, from the
    service layer (:func:`mixbot.bus.events.daily_summary`)."""
    iso = day.isoformat()
    trades = service.trades([ref.file], date_from=iso, date_to=iso)
    st = service.status(ref.file)
    positions = [f"{p['symbol']} {p['qty']:g}" for p in st.positions]
    return daily_summary(day, trades, positions, list(st.halts))


def _trading_day(ref: Any, day: dt.date) -> bool:
    cal = calendar_for(profile_for(ref.cfg))
    if cal is None:
        return day.weekday() < 5
    return cal.is_trading_day(day)


class DailySummaries:
    """Emits each bot's ``daily_summary`` once its market's clock passes ``at`` on a trading
    day; :meth:`tick` is called by the notifier thread every round.

    Args:
        service: the service layer; ``refs``: the bots (those whose rules send
            ``daily_summary`` on some channel); ``at``: ``HH:MM`` exchange time.
    """

    def __init__(self, service: Any, refs: list[Any], at: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self.service = service
        self.refs = refs
        self.at = dt.time.fromisoformat(at)
        self.clock = clock
        self._done: set[tuple[str, dt.date]] = set()

    def tick(self) -> int:
        """Emit the summaries that are due; returns how many events were written."""
        now = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        n = 0
        for ref in self.refs:
            local = now.astimezone(profile_for(ref.cfg).zone)
            day = local.date()
            if (ref.bot_id, day) in self._done or local.time() < self.at:
                continue
            try:
                trading = _trading_day(ref, day)
            except CalendarCoverageError as exc:
                log.warning("daily summary of %s skipped: %s", ref.bot_id, exc)
                trading = False
            if trading:  # a failure below raises before the day is marked: tried again
                ev = summary_event(self.service, ref, day)
                log_ = EventLog(ref.url, engine=self.service.engine(ref.url, create=True))
                n += log_.emit(ref.bot_id, ref.mode, [ev])
            self._done.add((ref.bot_id, day))
        return n
