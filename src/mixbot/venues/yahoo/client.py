"""Yahoo chart history through yfinance: one request -> end-labelled naive-UTC bars.

Every request is ``yfinance.Ticker(symbol, session=...).history(start, end, interval,
auto_adjust=False, actions=False, prepost=False, repair=False)``: yfinance sends
``GET /v8/finance/chart/<symbol>?period1=&period2=&interval=&includePrePost=false&events=
div,splits,capitalGains`` (``yfinance/scrapers/history.py``), fetching a cookie
(``fc.yahoo.com``) and a crumb (``/v1/test/getcrumb``) first. Its frame is indexed by bar
START in the exchange time zone; mixbot labels bars by their END (naive UTC):

* intraday: end = start + interval, capped at the session close for the day's last bar
  (NSE 1h bars: ..., 14:15 -> 15:15, 15:15 -> 15:30);
* daily: end = that date at the session close (15:30 IST = 10:00 UTC), like daily files.

Prices: Yahoo's ``Close`` (split- and bonus-adjusted by Yahoo, NOT dividend-adjusted;
``Adj Close`` is ignored), in the listing currency (INR for ``.NS`` / ``.BO``); volume in
shares.

Rate limits. Yahoo publishes NO API documentation and NO limits for these endpoints. Users
report HTTP 429 "Too Many Requests" after bursts of a few hundred requests and blocks of an
hour or more (yfinance issues #2125, #2422); the old YQL public limit was 2,000 requests an
hour per IP. ASSUMED here, per host (all mixbot processes together, through
:class:`~mixbot.venues.shared_limits.SharedWindowLimiter`): at most :data:`LIMITS` = 2 a
second, 60 a minute, 1,000 an hour of chart requests (yfinance adds one cookie request per
chart request and a crumb request per process). A 429 or a 5xx is retried with backoff
(:data:`RETRY_WAITS`), then raised.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from mixbot.errors import MixbotError, TemporaryError

log = logging.getLogger(__name__)

#: (calls, window seconds) of chart requests per host: an assumption (module doc).
LIMITS = ((2, 1.0), (60, 60.0), (1000, 3600.0))
#: seconds waited before each retry of a refused (429) or failed (5xx, network) request.
RETRY_WAITS = (2.0, 10.0, 30.0, 60.0)
#: what Yahoo's chart API serves per interval: (widest span of one request, how far back);
#: from Yahoo's own 422 messages as users report them (yfinance docs: "Intraday data cannot
#: extend last 60 days"), not from any Yahoo documentation.
SPANS: dict[str, tuple[dt.timedelta | None, dt.timedelta | None]] = {
    "1m": (dt.timedelta(days=7), dt.timedelta(days=29)),
    "2m": (dt.timedelta(days=59), dt.timedelta(days=59)),
    "5m": (dt.timedelta(days=59), dt.timedelta(days=59)),
    "15m": (dt.timedelta(days=59), dt.timedelta(days=59)),
    "30m": (dt.timedelta(days=59), dt.timedelta(days=59)),
    "90m": (dt.timedelta(days=59), dt.timedelta(days=59)),
    "1h": (dt.timedelta(days=729), dt.timedelta(days=729)),
    "1d": (dt.timedelta(days=5 * 366), None),
}
_UTC = dt.UTC


class YahooError(MixbotError):
    """Yahoo refused or could not answer a request (the message says which and why)."""


class YahooUnavailable(YahooError, TemporaryError):
    """Network error, 5xx or 'Will be right back' page: retry later."""


class YahooRateLimited(YahooUnavailable):
    """HTTP 429 Too Many Requests (yfinance's ``YFRateLimitError``)."""


@dataclass
class Chart:
    """One answer: ``bars`` (columns open/high/low/close/volume, float64; index bar END,
    naive UTC, increasing), ``market_time`` (Yahoo's ``regularMarketTime``: the last trade,
    naive UTC, or None) and ``timezone`` (the exchange's IANA zone)."""

    bars: pd.DataFrame
    market_time: dt.datetime | None = None
    timezone: str = "Asia/Kolkata"
    meta: dict[str, Any] = field(default_factory=dict)


def interval_delta(interval: str) -> dt.timedelta:
    """``"1m"`` .. ``"90m"``, ``"1h"``, ``"1d"`` -> its length (1d = 1 day).

    Raises:
        YahooError: an interval this venue does not fetch.
    """
    if interval not in SPANS:
        raise YahooError(f"interval {interval!r}: Yahoo chart intervals are {sorted(SPANS)}")
    n, unit = int(interval[:-1]), interval[-1]
    if unit == "m":
        return dt.timedelta(minutes=n)
    return dt.timedelta(hours=n) if unit == "h" else dt.timedelta(days=n)


def _empty() -> pd.DataFrame:
    cols = ["open", "high", "low", "close", "volume"]
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    frame.index = pd.DatetimeIndex([], dtype="datetime64[ns]", name="datetime")
    return frame


def end_labelled(
    frame: pd.DataFrame, interval: str, tz: str, session_close: dt.time
) -> pd.DataFrame:
    """yfinance's history frame (index = bar START, exchange tz; ``Open``..``Volume``) ->
    bars labelled by END, naive UTC (module doc); NaN rows dropped."""
    if frame is None or frame.empty:
        return _empty()
    zone = ZoneInfo(tz)
    idx = pd.DatetimeIndex(frame.index)
    idx = idx.tz_localize(zone) if idx.tz is None else idx.tz_convert(zone)
    day = idx.normalize()
    close = day + pd.Timedelta(hours=session_close.hour, minutes=session_close.minute)
    if interval == "1d":
        end = close
    else:
        end = idx + pd.Timedelta(interval_delta(interval))
        end = end.where(~((idx < close) & (end > close)), close)
    out = pd.DataFrame(
        {
            "open": frame["Open"].to_numpy("float64"),
            "high": frame["High"].to_numpy("float64"),
            "low": frame["Low"].to_numpy("float64"),
            "close": frame["Close"].to_numpy("float64"),
            "volume": frame["Volume"].to_numpy("float64"),
        },
        index=pd.DatetimeIndex(
            end.tz_convert("UTC").tz_localize(None).as_unit("ns"), name="datetime"
        ),
    )
    out = out.dropna(subset=["open", "high", "low", "close"])
    out = out[~out.index.duplicated(keep="last")].sort_index()
    return out


def _meta_of(ticker: Any) -> dict[str, Any]:
    """The chart ``meta`` of the last history() call (yfinance keeps it on the ticker's
    ``PriceHistory``; read directly so that no lazy metadata request is made)."""
    ph = getattr(ticker, "_price_history", None)
    meta = getattr(ph, "_history_metadata", None)
    return dict(meta) if isinstance(meta, dict) else {}


def _as_utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    ts = pd.Timestamp(value, unit="s") if isinstance(value, int | float) else pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    return ts.tz_localize(None).to_pydatetime()


def session_close_of(meta: dict[str, Any], default: dt.time) -> dt.time:
    """The regular session's close (exchange wall time) from ``currentTradingPeriod``."""
    try:
        end = pd.Timestamp(meta["currentTradingPeriod"]["regular"]["end"])
        return dt.time(end.hour, end.minute)
    except (KeyError, TypeError, ValueError):
        return default


class ChartClient:
    """Chart requests of one process through yfinance, rate-limited and retried.

    Args:
        base: the target (None: ``$MIXBOT_YAHOO_API``, else Yahoo).
        limiter: ``acquire()`` before each chart request (None: no limit; see
            :func:`default_limiter`).
        sleep: how to wait between retries (tests pass a fake).
        retry_waits: seconds before each retry (default :data:`RETRY_WAITS`).
        cache_dir: yfinance's cache folder (see :func:`~.hosts.configure_yfinance`).
    """

    def __init__(
        self,
        base: str | None = None,
        *,
        limiter: Any = None,
        sleep: Callable[[float], None] | None = None,
        retry_waits: tuple[float, ...] = RETRY_WAITS,
        cache_dir: str | Path | None = None,
    ) -> None:
        from mixbot.venues.yahoo.hosts import configure_yfinance, yahoo_session

        configure_yfinance(cache_dir)
        self.session = yahoo_session(base)
        self.limiter = limiter
        self.retry_waits = tuple(retry_waits)
        self._stop = threading.Event()
        self._sleep = sleep or (lambda s: self._stop.wait(s) and None)
        self.chart_requests = 0
        self.retries = 0

    def close(self) -> None:
        """Stop waiting in a retry (another thread's :meth:`chart` then raises)."""
        self._stop.set()

    def chart(
        self,
        symbol: str,
        interval: str,
        start: dt.datetime,
        end: dt.datetime,
        session_close: dt.time = dt.time(15, 30),
    ) -> Chart:
        """Bars of ``symbol`` whose START is in ``[start, end)`` (naive UTC), end-labelled.

        Empty bars (``Chart.bars`` empty) when Yahoo has none in the range (holidays).

        Raises:
            YahooRateLimited: still 429 after the retries.
            YahooUnavailable: still failing (network, 5xx) after the retries.
            YahooError: Yahoo refused the request (unknown symbol, range not served).
        """
        waits = list(self.retry_waits)
        while True:
            try:
                return self._once(symbol, interval, start, end, session_close)
            except YahooUnavailable as exc:
                if not waits or self._stop.is_set():
                    raise
                wait = waits.pop(0)
                self.retries += 1
                log.warning("Yahoo %s %s: %s; retrying in %.0f s", symbol, interval, exc, wait)
                self._sleep(wait)
                if self._stop.is_set():
                    raise

    def probe(self, symbol: str) -> Chart:
        """The last five days' daily bars (``range=5d``): what the feed reads the exchange
        clock (``regularMarketTime``) from before it knows which dates to ask for.

        Raises:
            the errors of :meth:`chart` (after the same retries).
        """
        waits = list(self.retry_waits)
        while True:
            try:
                return self._once(symbol, "1d", None, None, dt.time(15, 30))
            except YahooUnavailable:
                if not waits or self._stop.is_set():
                    raise
                self.retries += 1
                self._sleep(waits.pop(0))

    def _once(
        self,
        symbol: str,
        interval: str,
        start: dt.datetime | None,
        end: dt.datetime | None,
        close: dt.time,
    ) -> Chart:
        import yfinance as yf
        from yfinance import exceptions as yfe
        from yfinance.data import YfData

        if self.limiter is not None:
            self.limiter.acquire()
        self.chart_requests += 1
        # yfinance answers ranges ending 30 min before the WALL clock from an in-memory
        # cache keyed by URL: a poll must always ask (and a simulator's past is "past")
        YfData.cache_get.cache_clear()
        ticker = yf.Ticker(symbol, session=self.session)
        span: dict[str, Any] = (
            {"period": "5d"}
            if start is None or end is None
            else {"start": start.replace(tzinfo=_UTC), "end": end.replace(tzinfo=_UTC)}
        )
        try:
            frame = ticker.history(
                **span,
                interval=interval,
                auto_adjust=False,
                actions=False,
                prepost=False,
                repair=False,
                timeout=30,
            )
        except yfe.YFRateLimitError:
            raise YahooRateLimited("HTTP 429 Too Many Requests") from None
        except yfe.YFTzMissingError:
            raise YahooError(f"{symbol}: Yahoo knows no such symbol (no time zone)") from None
        except yfe.YFPricesMissingError as exc:
            if exc.yahoo_reason:  # Yahoo said why (unknown symbol, range not served)
                raise YahooError(f"{symbol} {interval}: {exc.yahoo_reason}") from None
            frame = None  # an answer without bars: none in the range
        except yfe.YFDataException as exc:
            raise YahooUnavailable(str(exc)) from None
        except (yfe.YFException, KeyError, TypeError) as exc:
            raise YahooError(f"{symbol} {interval}: unexpected answer ({exc})") from None
        except Exception as exc:  # curl_cffi network errors, JSON of an error page
            raise YahooUnavailable(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        meta = _meta_of(ticker)
        tz = str(meta.get("exchangeTimezoneName") or "Asia/Kolkata")
        bars = end_labelled(frame, interval, tz, session_close_of(meta, close))
        return Chart(bars, _as_utc(meta.get("regularMarketTime")), tz, meta)


def default_limiter(directory: str | Path | None = None) -> Any:
    """The per-host limiter of :data:`LIMITS`, shared by every mixbot process on this host
    (files in ``directory``, default ``data/locks``); its name depends on the target, so a
    simulator's budget is not Yahoo's."""
    from mixbot.venues.shared_limits import SharedWindowLimiter, account_key
    from mixbot.venues.yahoo.hosts import api_base

    folder = Path(directory) if directory else Path("data") / "locks"
    key = account_key("yahoo", api_base() or "yahoo.com")
    return SharedWindowLimiter(LIMITS, folder, f"yahoo-{key}-chart")
