"""The clock a live bot waits on, and the start-of-run session gate.

A bot on a live venue that starts on a day without a session (an exchange holiday, a
weekend) says so and waits for the next session instead of connecting to a closed market.
Tests drive :func:`wait_for_session` with a clock they control (:class:`MarketClock`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Protocol

from mixbot.market.calendar import Session, calendar_for
from mixbot.market.profile import MarketProfile


class MarketClock(Protocol):
    """Where "now" comes from and how to wait."""

    def now(self) -> dt.datetime:
        """The current time, aware (UTC)."""
        ...

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Wait ``seconds`` or until ``stop`` is set; True when ``stop`` is set."""
        ...


class WallClock:
    """The machine's clock (live trading: the exchange's time is the wall time)."""

    def now(self) -> dt.datetime:
        """``datetime.now(UTC)``."""
        return dt.datetime.now(dt.UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """``stop.wait(seconds)``: returns at once when the bot is stopped."""
        return stop.wait(max(0.0, seconds))


def wait_for_session(
    profile: MarketProfile,
    clock: MarketClock,
    stop: threading.Event,
    say: Callable[[str], None],
    *,
    lead: dt.timedelta = dt.timedelta(minutes=15),
    step_s: float = 60.0,
    on_wait: Callable[[Session], None] | None = None,
) -> Session | None:
    """Wait while the exchange holds no session on today's exchange date.

    On a day with a session (before, during or after it) nothing is waited: the feed handles
    the pre-open and the close as it always did. On a day without one (holiday, weekend),
    ``say`` gets one line naming the day and the next session, ``on_wait`` is called with
    that session, and this returns ``lead`` before its open (so the feed can connect and warm
    up), sleeping in steps of at most ``step_s`` seconds and re-reading the clock.

    Returns:
        The session waited for, or None when nothing was waited (a session day, no calendar
        for the profile, or ``stop`` set before the wait began).

    Raises:
        CalendarCoverageError: today is past the years the calendar knows (the message says
            to upgrade ``pandas_market_calendars``): the bot cannot tell a holiday.
    """
    cal = calendar_for(profile)
    if cal is None:
        say(f"{profile.name}: no holiday calendar known: trading days are not checked")
        return None
    now = clock.now()
    today = now.astimezone(profile.zone).date()
    if cal.session_on(today) is not None or stop.is_set():
        return None
    nxt = cal.next_session(now)
    zone = profile.zone
    start_at = nxt.open - lead
    what = "a weekend day" if today.weekday() >= 5 else "an exchange holiday"
    opens = nxt.open.astimezone(zone)
    say(
        f"{profile.name} has no trading session on {today.isoformat()} ({what}): waiting for "
        f"the next session, {nxt.day.isoformat()} {opens:%H:%M}-"
        f"{nxt.close.astimezone(zone):%H:%M} {profile.timezone} ({nxt.kind}); "
        f"starting at {start_at.astimezone(zone):%Y-%m-%d %H:%M}"
    )
    if on_wait is not None:
        on_wait(nxt)
    while not stop.is_set():
        left = (start_at - clock.now()).total_seconds()
        if left <= 0:
            break
        if clock.sleep(min(left, step_s), stop):
            break
    return nxt
