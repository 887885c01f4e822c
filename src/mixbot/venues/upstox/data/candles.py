"""Upstox historical candles (V3) -> end-labelled naive-UTC bars, with a local cache.

Endpoints (https://upstox.com/developer/api-documentation/v3/get-historical-candle-data and
https://upstox.com/developer/api-documentation/v3/get-intra-day-candle-data)::

    GET /v3/historical-candle/{instrument_key}/{unit}/{interval}/{to_date}/{from_date}
    GET /v3/historical-candle/intraday/{instrument_key}/{unit}/{interval}      (today only)

``instrument_key`` is URL-encoded (``NSE_EQ|INE002A01018`` -> ``NSE_EQ%7CINE002A01018``); dates
are IST trading dates ``YYYY-MM-DD``, both inclusive. Units and the widest range one request
may span (a wider one is refused as invalid), from the V3 docs:

============  ===================  ===============================================
unit          interval             max range per request (history available from)
============  ===================  ===============================================
minutes       1 .. 300             1 month for 1-15, 1 quarter above (Jan 2022)
hours         1 .. 5               1 quarter (Jan 2022)
days          1                    1 decade (Jan 2000)
weeks         1                    no limit (Jan 2000)
months        1                    no limit (Jan 2000)
============  ===================  ===============================================

The answer is ``{"status": "success", "data": {"candles": [[ts, open, high, low, close,
volume, oi], ...]}}``, NEWEST FIRST, ``ts`` like ``"2025-01-02T09:15:00+05:30"`` and, per the
docs, the START of the candle. mixbot labels bars by their END (see
:mod:`mixbot.feeds.aggregator`), so:

* minutes/hours: end = start + interval, capped at the session close (15:30 IST) for the last,
  shorter candle of the day (e.g. 30-minute candles: 15:15 -> 15:30);
* days: end = that date at the session close (15:30 IST = 10:00 UTC), like daily files;
* weeks/months: end = the last calendar day of the period at the session close.

Prices are INR, volume in shares (contracts for derivatives), times naive UTC.

Cache: ``data/upstox/candles/<key with | and spaces as _>/<unit><interval>.csv`` (columns
``datetime,open,high,low,close,volume,oi``, ``datetime`` = bar END in UTC with offset, readable by
:func:`mixbot.feeds.loaders.load_bars`) plus ``<unit><interval>.json`` listing the IST date
ranges already fetched, so holidays are not asked again. Only missing dates are fetched; today
(incomplete) is always fetched live and not cached.
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from mixbot.errors import ConfigError
from mixbot.venues.upstox.data.candle_cache import COLUMNS as COLUMNS
from mixbot.venues.upstox.data.candle_cache import DEFAULT_CACHE_DIR as DEFAULT_CACHE_DIR
from mixbot.venues.upstox.data.candle_cache import IST as IST
from mixbot.venues.upstox.data.candle_cache import CandleCache as CandleCache
from mixbot.venues.upstox.data.candle_cache import _atomic_write as _atomic_write
from mixbot.venues.upstox.data.candle_cache import _empty as _empty
from mixbot.venues.upstox.data.candle_cache import _local_dates as _local_dates
from mixbot.venues.upstox.data.candle_cache import sanitise_key as sanitise_key
from mixbot.venues.upstox.data.candle_ranges import _MAX_INTERVAL as _MAX_INTERVAL
from mixbot.venues.upstox.data.candle_ranges import _UNITS as _UNITS
from mixbot.venues.upstox.data.candle_ranges import Interval as Interval
from mixbot.venues.upstox.data.candle_ranges import Ranges as Ranges
from mixbot.venues.upstox.data.candle_ranges import _add_months as _add_months
from mixbot.venues.upstox.data.candle_ranges import _merge as _merge
from mixbot.venues.upstox.data.candle_ranges import chunk_ranges as chunk_ranges
from mixbot.venues.upstox.data.candle_ranges import missing_ranges as missing_ranges
from mixbot.venues.upstox.data.candle_ranges import parse_interval as parse_interval
from mixbot.venues.upstox.http.errors import UpstoxError

log = logging.getLogger(__name__)

SESSION_CLOSE = dt.time(15, 30)  # NSE, IST
#: Cached intraday rows older than this many days (and older than the request) are pruned.
DEFAULT_KEEP_DAYS = 3 * 366

ProgressFn = Callable[[int, int], None]


def _key_path(instrument_key: str) -> str:
    return urllib.parse.quote(instrument_key, safe="")


def historical_path(
    instrument_key: str, interval: Interval, to_date: dt.date, from_date: dt.date
) -> str:
    """``/v3/historical-candle/{key}/{unit}/{interval}/{to_date}/{from_date}`` (key encoded)."""
    return (
        f"/v3/historical-candle/{_key_path(instrument_key)}/{interval.unit}/{interval.value}/"
        f"{to_date.isoformat()}/{from_date.isoformat()}"
    )


def intraday_path(instrument_key: str, interval: Interval) -> str:
    """``/v3/historical-candle/intraday/{key}/{unit}/{interval}`` (today's candles)."""
    return (
        f"/v3/historical-candle/intraday/{_key_path(instrument_key)}/"
        f"{interval.unit}/{interval.value}"
    )


def parse_candles(
    candles: list[list[Any]],
    interval: Interval,
    session_close: dt.time = SESSION_CLOSE,
) -> pd.DataFrame:
    """Upstox candle rows -> a frame indexed by bar END (naive UTC), oldest first.

    Args:
        candles: ``[[ts, open, high, low, close, volume, oi?], ...]`` in any order, ``ts`` an
            ISO time with offset giving the candle START.
        interval: the candles' size.
        session_close: IST close used for daily/weekly/monthly labels and to cap the day's last
            intraday candle.

    Returns:
        Columns ``open, high, low, close, volume, oi`` (float64; INR, shares); duplicates
        (same end) keep the last row given.

    Raises:
        UpstoxError: a malformed row.
    """
    if not candles:
        return _empty(with_oi=True)
    try:
        rows = [
            (r[0], *(float(x) for x in r[1:6]), float(r[6]) if len(r) > 6 else 0.0) for r in candles
        ]
    except (TypeError, ValueError, IndexError) as exc:
        raise UpstoxError(f"malformed candle row ({exc}): {candles[0]!r}") from None
    frame = pd.DataFrame(rows, columns=["ts", *COLUMNS, "oi"])
    try:
        start = pd.DatetimeIndex(pd.to_datetime(frame["ts"], utc=True)).tz_convert(IST)
    except (ValueError, TypeError) as exc:
        raise UpstoxError(f"malformed candle timestamp ({exc})") from None
    day = start.normalize()
    close = day + pd.Timedelta(hours=session_close.hour, minutes=session_close.minute)
    delta = interval.delta
    if delta is not None:
        end = start + pd.Timedelta(delta)
        capped = (start < close) & (end > close)
        end = end.where(~capped, close)
    elif interval.unit == "days":
        end = close
    else:
        months = 1 if interval.unit == "months" else 0
        days = 7 if interval.unit == "weeks" else 0
        last = [
            (_add_months(d.date(), months) if months else d.date() + dt.timedelta(days=days))
            - dt.timedelta(days=1)
            for d in day
        ]
        end = pd.DatetimeIndex(
            [dt.datetime.combine(d, session_close, IST) for d in last]
        ).tz_convert(IST)
    frame.index = pd.DatetimeIndex(
        end.tz_convert("UTC").tz_localize(None).as_unit("ns"), name="datetime"
    )
    frame = frame.drop(columns="ts")
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return frame.astype("float64")


def _candles_of(body: Any) -> list[list[Any]]:
    try:
        candles = body["data"]["candles"]
    except (KeyError, TypeError):
        raise UpstoxError(f"unexpected candle answer: {str(body)[:200]}") from None
    return list(candles or [])


def fetch_range(
    client: Any, instrument_key: str, interval: Interval, from_date: dt.date, to_date: dt.date
) -> pd.DataFrame:
    """One historical request (the range must fit the unit's limit): see :func:`parse_candles`."""
    body = client.get(historical_path(instrument_key, interval, to_date, from_date))
    return parse_candles(_candles_of(body), interval)


def fetch_intraday(client: Any, instrument_key: str, interval: Interval) -> pd.DataFrame:
    """Today's candles so far (minutes/hours/days only): see :func:`parse_candles`."""
    if interval.unit not in ("minutes", "hours", "days"):
        return _empty(with_oi=True)
    body = client.get(intraday_path(instrument_key, interval))
    return parse_candles(_candles_of(body), interval)


# -- cache --------------------------------------------------------------------------------------


# -- the public entry point ---------------------------------------------------------------------


DateLike = dt.date | dt.datetime | str | None


def _as_bound(value: DateLike) -> tuple[dt.date | None, pd.Timestamp | None]:
    """(IST date, exact naive-UTC time or None) of a ``start``/``end`` argument."""
    if value is None:
        return None, None
    if isinstance(value, str):
        try:
            if len(value.strip()) <= 10:
                return dt.date.fromisoformat(value.strip()), None
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(f"not a date: {value!r} (use YYYY-MM-DD)") from None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        ts = pd.Timestamp(aware.astimezone(dt.UTC).replace(tzinfo=None))
        return aware.astimezone(IST).date(), ts
    return value, None


def fetch_bars(
    client: Any,
    instrument_key: str,
    interval: str | Interval = "1m",
    start: DateLike = None,
    end: DateLike = None,
    cache: bool = True,
    *,
    cache_dir: Path | None = None,
    keep_days: int | None = None,
    progress: ProgressFn | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Historical (+ today's) Upstox bars of one instrument, end-labelled, naive UTC.

    Args:
        client: an :class:`~mixbot.venues.upstox.http.client.UpstoxClient`.
        instrument_key: e.g. ``"NSE_EQ|INE002A01018"`` (resolve symbols with
            :meth:`mixbot.venues.upstox.instruments.InstrumentMaster.resolve`).
        interval: ``"1m"``, ``"5m"``, ``"1h"``, ``"1d"``, ... (:func:`parse_interval`).
        start, end: a date / ``"YYYY-MM-DD"`` (IST trading date, inclusive), or a datetime
            (aware, or naive UTC) bounding the bar END times. Default end: now (so today's
            completed bars are included, from the intraday endpoint); default start: 30 days
            before end.
        cache: read and update the local cache (today's bars are never cached).
        cache_dir: default ``data/upstox/candles``.
        keep_days: prune cached bars older than this many days unless this request needs them
            (default: ~3 years for minutes/hours, never for days and longer).
        progress: called as ``progress(done, total)`` over the requests made.
        now: the current time (tests); aware or naive UTC.

    Returns:
        Columns ``open, high, low, close, volume`` (float64, INR and shares), index
        ``datetime`` = bar END time, naive UTC, strictly increasing. Only COMPLETE bars (end <=
        now). Empty when Upstox has nothing (holidays, before listing).

    Raises:
        ConfigError: bad interval or dates.
        TokenExpiredError, RateLimitedError, UpstoxUnavailableError, UpstoxError: from the API
            (bars fetched before the failure are kept in the cache).
    """
    iv = interval if isinstance(interval, Interval) else parse_interval(interval)
    if now is None:
        now_utc = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    elif now.tzinfo is None:
        now_utc = now
    else:
        now_utc = now.astimezone(dt.UTC).replace(tzinfo=None)
    now_ts = pd.Timestamp(now_utc)
    today = now_utc.replace(tzinfo=dt.UTC).astimezone(IST).date()
    start_date, start_ts = _as_bound(start)
    end_date, end_ts = _as_bound(end)
    if end_date is None or end_date > today:
        end_date = today
    if start_date is None:
        start_date = end_date - dt.timedelta(days=30)
    if start_date > end_date:
        raise ConfigError(f"start {start_date} is after end {end_date}")

    hist_end = min(end_date, today - dt.timedelta(days=1))
    want_today = end_date >= today >= start_date
    store = CandleCache(cache_dir or DEFAULT_CACHE_DIR, instrument_key, iv) if cache else None
    frame, covered = store.load() if store else (_empty(with_oi=True), [])
    gaps = missing_ranges(start_date, hist_end, covered) if start_date <= hist_end else []
    chunks = [c for a, b in gaps for c in chunk_ranges(a, b, iv)]
    total = len(chunks) + int(want_today)
    parts = [frame]
    done = 0
    if progress:
        progress(0, total)
    try:
        for a, b in chunks:
            parts.append(fetch_range(client, instrument_key, iv, a, b))
            covered.append((a, b))
            done += 1
            if progress:
                progress(done, total)
    finally:
        if store is not None and done:
            merged = pd.concat(parts)
            merged = merged[~merged.index.duplicated(keep="last")].sort_index()
            merged, kept = _prune(merged, covered, iv, keep_days, start_date, today)
            store.save(merged, kept)
    merged = pd.concat(parts)
    merged = merged[~merged.index.duplicated(keep="last")].sort_index()
    if want_today:
        live = fetch_intraday(client, instrument_key, iv)
        merged = pd.concat([merged, live])
        merged = merged[~merged.index.duplicated(keep="last")].sort_index()
        done += 1
        if progress:
            progress(done, total)
    dates = _local_dates(merged.index)
    mask = (dates >= start_date) & (dates <= end_date) & (merged.index <= now_ts)
    if start_ts is not None:
        mask &= merged.index >= start_ts
    if end_ts is not None:
        mask &= merged.index <= end_ts
    out = merged.loc[mask, COLUMNS]
    out.index.name = "datetime"
    return out


def _prune(
    frame: pd.DataFrame,
    covered: Ranges,
    iv: Interval,
    keep_days: int | None,
    start_date: dt.date,
    today: dt.date,
) -> tuple[pd.DataFrame, Ranges]:
    if keep_days is None:
        keep_days = DEFAULT_KEEP_DAYS if iv.intraday else 0
    if keep_days <= 0:
        return frame, _merge(covered)
    cutoff = min(start_date, today - dt.timedelta(days=keep_days))
    kept = [(max(a, cutoff), b) for a, b in _merge(covered) if b >= cutoff]
    if frame.empty:
        return frame, kept
    return frame[_local_dates(frame.index) >= cutoff], kept
