"""NSE Muhurat trading sessions: the one-hour evening (or afternoon) session on Diwali.

Source: the NSE circulars announcing each year's Muhurat trading (Capital Market segment,
nseindia.com > Resources > Exchange Communication > Circulars). Times are the continuous
session in IST (Asia/Kolkata); the block-deal and pre-open windows before it are not part of it.

Why a project list: ``pandas_market_calendars`` models Muhurat sessions on weekdays as special
opens/closes, but its sessions come from a Monday-Friday week mask, so a Muhurat session on a
Saturday or Sunday cannot be represented there (its NSE calendar says so for 2023-11-12).
The weekday entries below repeat the calendar's (a test checks the two agree); the weekend
ones are only here. The real data in ``shared/data/nse_daily`` has bars on 2019-10-27
(Sunday) and 2020-11-14 (Saturday) for all 50 NIFTY stocks.

Add a year's session here when its circular is out (e.g. 2026's, on Sunday 2026-11-08, whose
times are not in this list yet).
"""

from __future__ import annotations

import datetime as dt

from mixbot.market.profile import SpecialSession

_SRC = "NSE circular: Muhurat trading {year} (Capital Market segment)"


def _s(day: str, open_: str, close: str) -> SpecialSession:
    d = dt.date.fromisoformat(day)
    return SpecialSession(
        day=d,
        open=dt.time.fromisoformat(open_),
        close=dt.time.fromisoformat(close),
        kind="muhurat",
        source=_SRC.format(year=d.year),
    )


#: NSE Muhurat sessions (IST), oldest first.
NSE_MUHURAT: tuple[SpecialSession, ...] = (
    _s("2019-10-27", "18:15", "19:15"),  # Sunday
    _s("2020-11-14", "18:15", "19:15"),  # Saturday
    _s("2021-11-04", "18:15", "19:15"),
    _s("2022-10-24", "18:15", "19:15"),
    _s("2023-11-12", "18:15", "19:15"),  # Sunday
    _s("2024-11-01", "18:00", "19:00"),
    _s("2025-10-21", "13:45", "14:45"),
)
