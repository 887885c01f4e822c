"""Trading days and sessions of a :class:`~mixbot.market.profile.MarketProfile`.

Holidays and weekday special sessions come from ``pandas_market_calendars`` (its NSE calendar
is curated from NSE circulars, 1996 onwards); the profile's own special sessions (Muhurat,
:mod:`mixbot.market.muhurat`) are laid over it, weekend ones included.

Coverage guard: outside the years the calendar has holidays for, ``pandas_market_calendars``
treats every weekday as a trading day. :class:`ExchangeCalendar` refuses such dates with
:class:`CalendarCoverageError` (the message says to upgrade the package, or to list the
year's holidays in the config's ``market.holidays``) instead of answering wrongly.

``market.holidays`` (:attr:`MarketProfile.holidays`): the exchange's holiday circular for
a year comes out weeks before a package release lists it. Dates given there are holidays
on top of the calendar's, and a year with at least one of them counts as known (the user
has listed that year's holidays): its weekdays minus those dates are regular sessions.

Times: sessions carry aware UTC datetimes; days are exchange-local dates.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from mixbot.errors import MixbotError
from mixbot.market.profile import MarketProfile


class CalendarCoverageError(MixbotError):
    """A date outside the years the exchange calendar knows holidays for."""


@dataclass(frozen=True)
class Session:
    """One trading session.

    Attributes:
        day: exchange-local date.
        open, close: continuous session bounds, aware UTC datetimes.
        kind: ``"regular"``; ``"special"`` (the calendar's shortened/moved session);
            or the profile's special-session kind (``"muhurat"``).
    """

    day: dt.date
    open: dt.datetime
    close: dt.datetime
    kind: str


@functools.lru_cache(maxsize=8)
def _pmc_calendar(name: str) -> Any:
    import pandas_market_calendars as mcal

    return mcal.get_calendar(name)


def _package_version() -> str:
    from importlib.metadata import version

    try:
        return version("pandas_market_calendars")
    except Exception:
        return "?"


class ExchangeCalendar:
    """Sessions of one profile (``profile.calendar`` must name a ``pandas_market_calendars``
    calendar).

    Raises:
        ValueError: the profile has no calendar.
    """

    def __init__(self, profile: MarketProfile) -> None:
        if profile.calendar is None:
            raise ValueError(f"market profile {profile.name} has no holiday calendar")
        self.profile = profile
        self._cal = _pmc_calendar(profile.calendar)
        years = sorted({int(str(h)[:4]) for h in self._cal.holidays().holidays})
        self.first_year, self.last_year = years[0], years[-1]
        self._listed = {d.year for d in profile.holidays}  # years market.holidays covers
        self._years: dict[int, dict[dt.date, Session]] = {}

    def check(self, day: dt.date) -> None:
        """Raise :class:`CalendarCoverageError` when ``day`` is outside the known years."""
        if self.first_year <= day.year <= self.last_year or day.year in self._listed:
            return
        raise CalendarCoverageError(
            f"{day.isoformat()} is outside the {self.profile.name} holiday calendar "
            f"(pandas_market_calendars {_package_version()} knows {self.first_year}-"
            f"{self.last_year}); past it every weekday would count as a trading day. "
            f"List {day.year}'s holidays from the exchange's circular in the bot config's "
            "market.holidays, or upgrade once a release has them "
            "(pip install -U pandas_market_calendars, then update its pin in requirements.txt)"
        )

    def _year(self, year: int) -> dict[dt.date, Session]:
        got = self._years.get(year)
        if got is not None:
            return got
        p = self.profile
        frame = self._cal.schedule(f"{year}-01-01", f"{year}-12-31")
        out: dict[dt.date, Session] = {}
        zone = p.zone
        for day, o, c in zip(frame.index, frame["market_open"], frame["market_close"]):
            op, cl = o.to_pydatetime(), c.to_pydatetime()
            lo, lc = op.astimezone(zone).time(), cl.astimezone(zone).time()
            regular = lo == p.session_open and lc == p.session_close
            d = day.date()
            out[d] = Session(d, op, cl, "regular" if regular else "special")
        for h in p.holidays:
            out.pop(h, None)
        for s in p.special_sessions:  # after the holidays: a Muhurat session is on one
            if s.day.year == year:
                op = dt.datetime.combine(s.day, s.open, zone).astimezone(dt.UTC)
                cl = dt.datetime.combine(s.day, s.close, zone).astimezone(dt.UTC)
                out[s.day] = Session(s.day, op, cl, s.kind)
        self._years[year] = out
        return out

    def session_on(self, day: dt.date) -> Session | None:
        """The session held on exchange date ``day``, or None (holiday, weekend).

        Raises:
            CalendarCoverageError: ``day`` is outside the calendar's years.
        """
        self.check(day)
        return self._year(day.year).get(day)

    def is_trading_day(self, day: dt.date) -> bool:
        """True when the exchange holds a session on ``day`` (Muhurat sessions count).

        Raises:
            CalendarCoverageError: ``day`` is outside the calendar's years.
        """
        return self.session_on(day) is not None

    def sessions(self, start: dt.date, end: dt.date) -> list[Session]:
        """Sessions on exchange dates ``start`` .. ``end`` (inclusive), oldest first.

        Raises:
            CalendarCoverageError: a day of the range is outside the calendar's years.
        """
        self.check(start)
        self.check(end)
        out: list[Session] = []
        for year in range(start.year, end.year + 1):
            out += [s for d, s in sorted(self._year(year).items()) if start <= d <= end]
        return out

    def next_session(self, now: dt.datetime) -> Session:
        """The session in progress at ``now`` (aware, or naive UTC), else the next to open.

        Raises:
            CalendarCoverageError: the search reaches a day outside the calendar's years.
        """
        now = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
        day = now.astimezone(self.profile.zone).date()
        while True:
            s = self.session_on(day)
            if s is not None and s.close > now:
                return s
            day += dt.timedelta(days=1)


def calendar_for(profile: MarketProfile) -> ExchangeCalendar | None:
    """The :class:`ExchangeCalendar` of ``profile`` (cached), or None when it has none."""
    if profile.calendar is None:
        return None
    return _cached(profile)


@functools.lru_cache(maxsize=8)
def _cached(profile: MarketProfile) -> ExchangeCalendar:
    return ExchangeCalendar(profile)
