"""NSE market profile and calendar, checked against real NSE daily data and known dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from mixbot.errors import ConfigError
from mixbot.market import (
    NSE,
    CalendarCoverageError,
    QuantityModel,
    calendar_for,
    get_profile,
    profile_for_exchange,
    session_date,
)
from mixbot.market.muhurat import NSE_MUHURAT

D = dt.date.fromisoformat


def _trading_dates(path: Path) -> set[dt.date]:
    """Dates with real volume in a yfinance NSE daily file (placeholder bars have volume 0)."""
    f = pd.read_csv(path, header=0, skiprows=[1, 2]).rename(columns={"Price": "Date"})
    f = f[f["Volume"] > 0]
    return set(pd.to_datetime(f["Date"]).dt.date)


def test_nse_profile_facts() -> None:
    assert get_profile("nse") is NSE
    assert (NSE.timezone, NSE.session_open_min, NSE.session_close_min) == ("Asia/Kolkata", 555, 930)
    assert (NSE.trading_days_per_year, NSE.currency, NSE.calendar) == (252.0, "INR", "XNSE")
    assert profile_for_exchange("NFO") is NSE and profile_for_exchange("OTHER") is NSE
    with pytest.raises(ConfigError, match="known: BSE, CRYPTO, MCX, NSE"):
        get_profile("NYSE")


@pytest.mark.parametrize(
    "day",
    ["2024-01-26", "2023-01-26", "2019-01-26", "2024-11-15", "2024-08-15", "2022-10-26"],
)
def test_known_holidays_are_not_trading_days(day: str) -> None:
    # Republic Day (26 Jan; 2019-01-26 a Saturday anyway), Guru Nanak Jayanti 2024,
    # Independence Day 2024, Diwali Balipratipada 2022
    assert not calendar_for(NSE).is_trading_day(D(day))  # type: ignore[union-attr]


def test_regular_days_have_the_regular_session() -> None:
    s = calendar_for(NSE).session_on(D("2024-11-04"))  # type: ignore[union-attr]
    assert s is not None and s.kind == "regular"
    assert s.open == dt.datetime(2024, 11, 4, 3, 45, tzinfo=dt.UTC)  # 09:15 IST
    assert s.close == dt.datetime(2024, 11, 4, 10, 0, tzinfo=dt.UTC)  # 15:30 IST


def test_calendar_matches_real_daily_data(data_dir: Path) -> None:
    cal = calendar_for(NSE)
    assert cal is not None
    start, end = D("2010-01-01"), D("2024-11-22")  # the files end on 2024-11-22
    sessions = {s.day: s for s in cal.sessions(start, end)}
    seen: set[dt.date] = set()
    for sym in ("RELIANCE", "TCS", "INFY", "HDFCBANK", "SBIN"):
        days = {
            d for d in _trading_dates(data_dir / "nse_daily" / f"{sym}.csv") if start <= d <= end
        }
        assert days - set(sessions) == set(), f"{sym}: bars on days the calendar has closed"
        seen |= days
    # every regular session of the last five years is in the data of at least one stock
    missing = [
        d for d, s in sessions.items() if d.year >= 2020 and s.kind == "regular" and d not in seen
    ]
    assert missing == []


def test_weekend_muhurat_sessions_from_the_project_list(data_dir: Path) -> None:
    cal = calendar_for(NSE)
    assert cal is not None
    days = _trading_dates(data_dir / "nse_daily" / "RELIANCE.csv")
    for day in ("2019-10-27", "2020-11-14"):  # Sunday, Saturday: real bars in the data
        s = cal.session_on(D(day))
        assert D(day).weekday() >= 5 and D(day) in days
        assert s is not None and s.kind == "muhurat"
        assert s.open == dt.datetime.fromisoformat(f"{day}T18:15:00+05:30")
        assert s.close == dt.datetime.fromisoformat(f"{day}T19:15:00+05:30")
    assert cal.is_trading_day(D("2023-11-12"))  # Sunday Muhurat 2023, no bar in yfinance
    assert not cal.is_trading_day(D("2023-11-11"))  # the Saturday before: closed


def test_weekday_muhurat_entries_agree_with_pandas_market_calendars() -> None:
    import pandas_market_calendars as mcal

    raw = mcal.get_calendar("XNSE")
    weekday = [s for s in NSE_MUHURAT if s.day.weekday() < 5]
    assert len(weekday) >= 4
    for s in weekday:
        frame = raw.schedule(s.day.isoformat(), s.day.isoformat())
        assert len(frame) == 1, s.day
        o = frame["market_open"].iloc[0].tz_convert("Asia/Kolkata")
        c = frame["market_close"].iloc[0].tz_convert("Asia/Kolkata")
        assert (o.time(), c.time()) == (s.open, s.close), s.day


def test_dates_past_the_calendar_are_refused() -> None:
    cal = calendar_for(NSE)
    assert cal is not None
    last = cal.last_year
    assert last >= 2026
    assert cal.is_trading_day(D(f"{last}-12-24")) in (True, False)  # answered
    with pytest.raises(
        CalendarCoverageError, match=rf"knows 1996-{last}.*market.holidays.*upgrade"
    ):
        cal.is_trading_day(D(f"{last + 1}-01-05"))
    with pytest.raises(CalendarCoverageError):
        cal.sessions(D(f"{last}-12-01"), D(f"{last + 1}-01-31"))
    with pytest.raises(CalendarCoverageError):  # the search for the next session runs past it
        cal.next_session(dt.datetime(last, 12, 31, 12, 0, tzinfo=dt.UTC))


def test_next_session_skips_the_holiday() -> None:
    cal = calendar_for(NSE)
    assert cal is not None
    # Friday 2024-01-26 (Republic Day) 10:00 IST -> Monday 2024-01-29 09:15 IST
    s = cal.next_session(dt.datetime.fromisoformat("2024-01-26T10:00:00+05:30"))
    assert s.day == D("2024-01-29")
    # during a session: that session
    s = cal.next_session(dt.datetime.fromisoformat("2024-01-29T15:00:00+05:30"))
    assert s.day == D("2024-01-29")


def test_session_date_is_the_exchange_date() -> None:
    # 2024-01-25 20:00 UTC is 01:30 IST on the 26th
    assert session_date(dt.datetime(2024, 1, 25, 20, 0), NSE) == D("2024-01-26")
    assert session_date(dt.datetime(2024, 1, 25, 10, 0), "Asia/Kolkata") == D("2024-01-25")
    assert NSE.session_date(dt.datetime(2024, 1, 25, 18, 29)) == D("2024-01-25")


def test_quantity_model() -> None:
    q = NSE.quantity
    assert q.round_down(99.99, 1) == 99 and isinstance(q.round_down(99.99, 1), int)
    assert q.round_down(99.99, 15) == 90  # BANKNIFTY-style lot of 15
    assert q.round_down(-3.0, 1) == 0
    frac = QuantityModel(whole_units=False, lots=False, step=0.001)
    assert frac.round_down(0.12345) == pytest.approx(0.123)
    with pytest.raises(ValueError, match="lot size"):
        q.round_down(10.0, 0)
