"""Market profiles as data: exchange time zone, sessions, holidays and special sessions,
trading days per year, quantity model and currency (see :mod:`mixbot.market.profile`).

Importing this package is cheap: ``pandas_market_calendars`` is loaded only when a calendar
is first asked for (:func:`calendar_for`).
"""

from __future__ import annotations

from mixbot.market.calendar import CalendarCoverageError, ExchangeCalendar, Session, calendar_for
from mixbot.market.clock import MarketClock, WallClock, wait_for_session
from mixbot.market.profile import MarketProfile, QuantityModel, SpecialSession, session_date
from mixbot.market.registry import (
    BSE,
    CRYPTO,
    MCX,
    NSE,
    PROFILES,
    get_profile,
    profile_for,
    profile_for_exchange,
)

__all__ = [
    "BSE",
    "CRYPTO",
    "MCX",
    "NSE",
    "PROFILES",
    "CalendarCoverageError",
    "ExchangeCalendar",
    "MarketClock",
    "MarketProfile",
    "QuantityModel",
    "Session",
    "SpecialSession",
    "WallClock",
    "calendar_for",
    "get_profile",
    "profile_for",
    "profile_for_exchange",
    "session_date",
    "wait_for_session",
]
