"""What a market is, as data: :class:`MarketProfile` and its :class:`QuantityModel`.

A profile holds the facts generic code used to hard-code for NSE: the exchange's time zone,
its regular session, its holiday calendar (by name, see :mod:`mixbot.market.calendar`), the
special sessions the calendar cannot represent (:mod:`mixbot.market.muhurat`), the trading
days per year used to annualise daily returns, the account currency and how order
quantities are counted. Profiles are looked up by name in :mod:`mixbot.market.registry`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuantityModel:
    """How an order quantity is counted on a market.

    Attributes:
        whole_units: quantities are whole numbers (shares, contracts). False: fractional
            (crypto, later), in steps of ``step``.
        lots: orders are multiples of the instrument's lot size (``trading.lot_size``; 1 for
            NSE cash equities, the contract's lot for F&O).
        step: smallest quantity increment when ``whole_units`` is False (units of the asset).
    """

    whole_units: bool = True
    lots: bool = True
    step: float = 1.0

    def round_down(self, raw: float, lot: int = 1) -> float:
        """The largest allowed quantity <= ``raw`` (units), never negative.

        Whole units: ``floor(raw / lot) * lot`` when ``lots`` (else ``floor(raw)``), an int;
        fractional: ``floor(raw / step) * step``. Rounding is always DOWN so that a size never
        needs more cash than the budget it came from.

        Raises:
            ValueError: ``lot`` < 1 or ``step`` <= 0.
        """
        if lot < 1:
            raise ValueError(f"lot size must be a whole number >= 1, got {lot!r}")
        if raw <= 0 or not math.isfinite(raw):
            return 0
        if self.whole_units:
            unit = lot if self.lots else 1
            return int(math.floor(raw / unit) * unit)
        if self.step <= 0:
            raise ValueError(f"quantity step must be > 0, got {self.step!r}")
        return math.floor(raw / self.step) * self.step


@dataclass(frozen=True)
class SpecialSession:
    """One session outside the regular schedule (e.g. a Muhurat session on Diwali).

    Attributes:
        day: the session's exchange-local date.
        open, close: exchange-local times of the continuous session.
        kind: short name (``"muhurat"``).
        source: where the date and times come from (the exchange's circular).
    """

    day: dt.date
    open: dt.time
    close: dt.time
    kind: str
    source: str


@dataclass(frozen=True)
class MarketProfile:
    """One market's rules as data.

    Attributes:
        name: registry name (``"NSE"``).
        exchange: the exchange's full name.
        timezone: IANA zone of every local time here (``"Asia/Kolkata"`` for NSE).
        session_open, session_close: the regular continuous session, local times (NSE
            09:15-15:30; pre-open and post-close sessions are outside it).
        calendar: ``pandas_market_calendars`` calendar name for holidays and weekday special
            sessions (``"XNSE"``), or None when no holiday calendar is known (no holiday checks).
        special_sessions: sessions the calendar cannot represent or does not have (Muhurat
            sessions, also those on weekends), from the exchange's circulars.
        trading_days_per_year: annualisation factor of daily returns (NSE: 252).
        currency: ISO 4217 code of prices and cash (``"INR"``).
        quantity: how order quantities are counted.
        holidays: extra exchange holidays (exchange-local dates) from the bot config's
            ``market.holidays``: for years the calendar does not know yet; a year with one
            of them counts as known (see :mod:`mixbot.market.calendar`).
    """

    name: str
    exchange: str
    timezone: str
    session_open: dt.time
    session_close: dt.time
    calendar: str | None
    special_sessions: tuple[SpecialSession, ...]
    trading_days_per_year: float
    currency: str
    quantity: QuantityModel
    holidays: tuple[dt.date, ...] = ()

    @property
    def session_open_min(self) -> int:
        """Regular open, minutes after local midnight (NSE: 555)."""
        return self.session_open.hour * 60 + self.session_open.minute

    @property
    def session_close_min(self) -> int:
        """Regular close, minutes after local midnight (NSE: 930)."""
        return self.session_close.hour * 60 + self.session_close.minute

    @property
    def zone(self) -> ZoneInfo:
        """The :class:`~zoneinfo.ZoneInfo` of :attr:`timezone`."""
        return ZoneInfo(self.timezone)

    def session_date(self, end_utc: dt.datetime) -> dt.date:
        """The trading-session date of a bar ending at ``end_utc``: its exchange-local date.

        ``end_utc``: naive UTC (the engine's convention) or aware. Right for markets whose
        sessions do not cross local midnight (NSE's, Muhurat ones included).
        """
        return session_date(end_utc, self.zone)


def session_date(end_utc: dt.datetime, zone: ZoneInfo | str | MarketProfile) -> dt.date:
    """The trading-session date of a bar (or fill) at ``end_utc`` in the market of ``zone``
    (a profile, a :class:`~zoneinfo.ZoneInfo` or an IANA name): its exchange-local date.

    ``end_utc``: naive UTC (the engine's convention) or aware. Right for markets whose
    sessions do not cross local midnight (NSE's, Muhurat sessions included).
    """
    if isinstance(zone, MarketProfile):
        zone = zone.zone
    elif isinstance(zone, str):
        zone = ZoneInfo(zone)
    aware = end_utc if end_utc.tzinfo is not None else end_utc.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone).date()
