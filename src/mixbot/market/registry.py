"""Market profiles by name, and the profile of a bot config.

A bot's profile is derived from its config's ``market.exchange`` (no new config key):
``NSE`` and ``NFO`` (NSE's F&O segment) -> :data:`NSE`; ``BSE`` -> :data:`BSE`; ``MCX`` ->
:data:`MCX` (no holiday calendar known: holiday checks are skipped); ``CRYPTO`` ->
:data:`CRYPTO` (24/7, fractional quantities); ``OTHER`` -> :data:`NSE`
(as the engine resolves instruments for it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from mixbot.errors import ConfigError
from mixbot.market.muhurat import NSE_MUHURAT
from mixbot.market.profile import MarketProfile, QuantityModel

#: Whole shares, in multiples of the instrument's lot size (``trading.lot_size``).
WHOLE_LOTS = QuantityModel(whole_units=True, lots=True)

#: National Stock Exchange of India: 09:15-15:30 IST continuous session (pre-open 09:00-09:08
#: is outside it), holidays from pandas_market_calendars' XNSE calendar, Muhurat sessions
#: from NSE circulars, 252 trading days a year, INR.
NSE = MarketProfile(
    name="NSE",
    exchange="National Stock Exchange of India",
    timezone="Asia/Kolkata",
    session_open=dt.time(9, 15),
    session_close=dt.time(15, 30),
    calendar="XNSE",
    special_sessions=NSE_MUHURAT,
    trading_days_per_year=252.0,
    currency="INR",
    quantity=WHOLE_LOTS,
)

#: BSE (Bombay Stock Exchange): same hours as NSE, its own holiday calendar (pandas_market_
#: calendars' XBOM); the Muhurat sessions are held jointly with NSE.
BSE = MarketProfile(
    name="BSE",
    exchange="BSE Ltd. (Bombay Stock Exchange)",
    timezone="Asia/Kolkata",
    session_open=dt.time(9, 15),
    session_close=dt.time(15, 30),
    calendar="XBOM",
    special_sessions=NSE_MUHURAT,
    trading_days_per_year=252.0,
    currency="INR",
    quantity=WHOLE_LOTS,
)

#: Multi Commodity Exchange of India: 09:00-23:30 IST; no holiday calendar is known to
#: pandas_market_calendars, so no holiday checks (the config's market section rules).
MCX = MarketProfile(
    name="MCX",
    exchange="Multi Commodity Exchange of India",
    timezone="Asia/Kolkata",
    session_open=dt.time(9, 0),
    session_close=dt.time(23, 30),
    calendar=None,
    special_sessions=(),
    trading_days_per_year=252.0,
    currency="INR",
    quantity=WHOLE_LOTS,
)

#: A 24/7 crypto spot market (Binance spot): UTC, every day trades (no holiday calendar, so
#: the session gate never waits), session 00:00-23:59 UTC, 365 trading days a year, USDT,
#: fractional quantities in steps of 0.00001 (BTCUSDT's LOT_SIZE stepSize on Binance; the
#: broker rounds again to the symbol's own exchangeInfo filters).
CRYPTO = MarketProfile(
    name="CRYPTO",
    exchange="24/7 crypto spot (Binance)",
    timezone="UTC",
    session_open=dt.time(0, 0),
    session_close=dt.time(23, 59),
    calendar=None,
    special_sessions=(),
    trading_days_per_year=365.0,
    currency="USDT",
    quantity=QuantityModel(whole_units=False, lots=False, step=0.00001),
)

PROFILES: dict[str, MarketProfile] = {p.name: p for p in (NSE, BSE, MCX, CRYPTO)}

#: ``market.exchange`` value -> profile name.
EXCHANGE_PROFILES: dict[str, str] = {
    "NSE": "NSE",
    "NFO": "NSE",
    "BSE": "BSE",
    "MCX": "MCX",
    "CRYPTO": "CRYPTO",
    "OTHER": "NSE",
}


def get_profile(name: str) -> MarketProfile:
    """The profile called ``name`` (case-insensitive).

    Raises:
        ConfigError: no such profile (the message lists the known ones).
    """
    p = PROFILES.get(name.upper())
    if p is None:
        raise ConfigError(f"unknown market profile {name!r}; known: {', '.join(sorted(PROFILES))}")
    return p


def profile_for_exchange(exchange: str) -> MarketProfile:
    """The profile of a config's ``market.exchange`` value (see the module docstring).

    Raises:
        ConfigError: an exchange name no profile serves.
    """
    name = EXCHANGE_PROFILES.get(exchange.upper())
    if name is None:
        raise ConfigError(
            f"market.exchange {exchange!r} has no market profile; "
            f"use one of {', '.join(sorted(EXCHANGE_PROFILES))}"
        )
    return PROFILES[name]


def profile_for(cfg: Any) -> MarketProfile:
    """The profile of a :class:`~mixbot.config.model.BotConfig`: from ``market.exchange``,
    with the config's ``market.holidays`` added."""
    p = profile_for_exchange(cfg.market.exchange)
    extra = tuple(getattr(cfg.market, "holidays", ()))
    return dataclasses.replace(p, holidays=extra) if extra else p
