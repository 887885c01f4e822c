"""Yahoo history with a local incremental cache, and ``mixbot data download --source yahoo``.

Bars come from :class:`~mixbot.venues.yahoo.client.ChartClient` (yfinance), labelled by their
END, naive UTC. Prices are Yahoo's ``Close`` family: SPLIT- AND BONUS-ADJUSTED by Yahoo (not
raw NSE prints), not dividend-adjusted.

Cache: the Upstox candle cache's layout and code (:class:`~mixbot.venues.upstox.data.
candle_cache.CandleCache`): ``data/yahoo/candles/<ticker>/<unit><n>.csv`` (``datetime`` = bar
END in UTC with offset, readable by :func:`mixbot.feeds.loaders.load_bars`) plus ``.json``
listing the exchange-local date ranges already fetched. Only missing dates are requested
(:func:`~mixbot.venues.upstox.data.candle_ranges.missing_ranges`), split into requests
Yahoo serves (:data:`~mixbot.venues.yahoo.client.SPANS`: 1m 7 days, 2m-90m 59 days, 1h 729
days, 1d 5 years a request); today (incomplete) is always fetched and never cached. A range
that comes back empty is cached as covered only when it spans at most
:data:`EMPTY_COVER_DAYS` days (a weekend or holiday); a longer empty answer is reported and
asked again next time (Yahoo sometimes answers empty for a while).
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from mixbot.errors import ConfigError
from mixbot.venues.upstox.data.candle_cache import CandleCache, _empty
from mixbot.venues.upstox.data.candle_ranges import Interval, missing_ranges
from mixbot.venues.yahoo.client import SPANS, ChartClient, YahooError

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path("data") / "yahoo" / "candles"
EMPTY_COVER_DAYS = 4
COLUMNS = ["open", "high", "low", "close", "volume"]
ADJUSTED_NOTE = (
    "prices are Yahoo's: split- and bonus-adjusted by Yahoo (not the raw NSE prints), "
    "not dividend-adjusted"
)
ProgressFn = Callable[[int, int], None]


def cache_interval(interval: str) -> Interval:
    """``"1d"`` / ``"5m"`` / ``"1h"`` -> the cache's :class:`Interval` (file stem).

    Raises:
        ConfigError: not a Yahoo chart interval.
    """
    if interval not in SPANS:
        raise ConfigError(f"interval {interval!r}: Yahoo serves {', '.join(SPANS)}")
    n, unit = int(interval[:-1]), interval[-1]
    return Interval({"m": "minutes", "h": "hours", "d": "days"}[unit], n)


def _midnight_utc(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.UTC).replace(tzinfo=None)


def _local_dates(index: pd.DatetimeIndex, zone: ZoneInfo) -> Any:
    return pd.DatetimeIndex(index).tz_localize("UTC").tz_convert(zone).date


def _chunks(a: dt.date, b: dt.date, interval: str) -> list[tuple[dt.date, dt.date]]:
    span = SPANS[interval][0]
    days = max(1, span.days) if span else 100_000
    out, d = [], a
    while d <= b:
        last = min(b, d + dt.timedelta(days=days - 1))
        out.append((d, last))
        d = last + dt.timedelta(days=1)
    return out


def _with_oi(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[COLUMNS].copy()
    out["oi"] = 0.0
    return out


def fetch_bars(
    client: ChartClient,
    symbol: str,
    interval: str = "1d",
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    cache: bool = True,
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
    now: dt.datetime | None = None,
    tz: str = "Asia/Kolkata",
    session_close: dt.time = dt.time(15, 30),
) -> pd.DataFrame:
    """Bars of ``symbol`` on exchange dates ``start..end`` (inclusive), end-labelled, naive UTC.

    Args:
        client: the chart client (its target and rate limit).
        symbol: a Yahoo ticker (``RELIANCE.NS``).
        interval: ``1m`` .. ``90m``, ``1h``, ``1d``.
        start, end: exchange-local dates; default end today, start 20 years back for ``1d``,
            else as far back as Yahoo serves the interval.
        cache: read and update the cache (module doc).
        progress: ``progress(done, total)`` over the requests made.
        now: the current time, naive UTC (default the wall clock; the simulator's clock in tests).
        tz, session_close: the exchange's zone and close (daily bars are labelled there).

    Returns:
        Columns ``open, high, low, close, volume`` (float64; listing currency, shares), index
        ``datetime`` strictly increasing; only complete bars (end <= now).

    Raises:
        ConfigError: bad dates, or a range Yahoo does not serve for this interval.
        YahooError / YahooUnavailable / YahooRateLimited: from Yahoo (bars fetched before
            the failure stay in the cache).
    """
    zone = ZoneInfo(tz)
    now_utc = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    today = now_utc.replace(tzinfo=dt.UTC).astimezone(zone).date()
    end = min(end or today, today)
    back = SPANS[interval][1] if interval in SPANS else None
    oldest = today - back if back is not None else None
    if start is None:
        start = oldest or today.replace(year=today.year - 20)
    if start > end:
        raise ConfigError(f"start {start} is after end {end}")
    if oldest is not None and start < oldest:
        raise ConfigError(
            f"Yahoo serves {interval} bars for the last {back.days if back else 0} days only "
            f"(from {oldest}); use --from {oldest} or a longer interval such as 1d"
        )
    iv = cache_interval(interval)
    store = CandleCache(cache_dir or DEFAULT_CACHE_DIR, symbol, iv) if cache else None
    frame, covered = store.load() if store else (_empty(with_oi=True), [])
    hist_end = min(end, today - dt.timedelta(days=1))
    gaps = missing_ranges(start, hist_end, covered) if start <= hist_end else []
    chunks = [c for a, b in gaps for c in _chunks(a, b, interval)]
    want_today = start <= today <= end
    total, done, parts = len(chunks) + int(want_today), 0, [frame]
    if progress:
        progress(0, total)
    try:
        for a, b in chunks:
            got = client.chart(
                symbol, interval, _midnight_utc(a, zone),
                _midnight_utc(b + dt.timedelta(days=1), zone), session_close,
            ).bars  # fmt: skip
            if len(got) or (b - a).days < EMPTY_COVER_DAYS:
                covered.append((a, b))
            else:
                log.warning("Yahoo returned no %s bars of %s for %s..%s", interval, symbol, a, b)
            parts.append(_with_oi(got))
            done += 1
            if progress:
                progress(done, total)
    finally:
        if store is not None and done:
            merged = pd.concat([p for p in parts if len(p)] or [frame])
            merged = merged[~merged.index.duplicated(keep="last")].sort_index()
            store.save(merged.astype("float64"), covered)
    if want_today:
        live = client.chart(
            symbol, interval, _midnight_utc(today, zone),
            _midnight_utc(today + dt.timedelta(days=1), zone), session_close,
        ).bars  # fmt: skip
        parts.append(_with_oi(live))
        done += 1
        if progress:
            progress(done, total)
    merged = pd.concat([p for p in parts if len(p)] or [frame])
    merged = merged[~merged.index.duplicated(keep="last")].sort_index()
    dates = _local_dates(merged.index, zone)
    mask = (dates >= start) & (dates <= end) & (merged.index <= pd.Timestamp(now_utc))
    out = merged.loc[mask, COLUMNS].astype("float64")
    out.index.name = "datetime"
    return out


def exchange_now(client: ChartClient, symbol: str) -> dt.datetime:
    """ "Now" for a download (naive UTC): Yahoo's ``regularMarketTime`` of ``symbol`` (one
    ``range=5d`` request; the simulator's clock when ``MIXBOT_YAHOO_API`` points at it),
    else the wall clock when Yahoo gives none.

    Raises:
        YahooError: from the request.
    """
    wall = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    t = client.probe(symbol).market_time
    return min(t, wall) if t is not None else wall


def quality_report(frame: pd.DataFrame, label: str) -> str:
    """The loader's :class:`~mixbot.feeds.quality.QualityReport` of downloaded bars, rendered
    (the same checks a data file gets: duplicates, bad prices, placeholders, gaps, jumps)."""
    from mixbot.errors import DataFileError
    from mixbot.feeds.loaders import load_bars

    if frame.empty:
        return f"{label}: no bars"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{label}.csv"
        out = frame.copy()
        idx = pd.DatetimeIndex(out.index).tz_localize("UTC")
        daily = len(idx) > 1 and (idx[1:] - idx[:-1]).median() >= pd.Timedelta(days=1)
        if daily:  # dates, so the loader labels them at the close and checks them as days
            out.index = idx.tz_convert("Asia/Kolkata").strftime("%Y-%m-%d")
            out.index.name = "date"
            out.to_csv(path)
        else:
            out.index = idx
            out.to_csv(path, date_format="%Y-%m-%dT%H:%M:%S%z")
        try:
            return load_bars(path).report.render()
        except DataFileError as exc:
            return f"{label}: {exc.problem}"


def _dates(args: Any) -> tuple[dt.date | None, dt.date | None]:
    try:
        a = dt.date.fromisoformat(args.date_from) if args.date_from else None
        b = dt.date.fromisoformat(args.date_to) if args.date_to else None
    except ValueError as exc:
        raise ConfigError(f"--from/--to: {exc} (use YYYY-MM-DD)") from None
    return a, b


def cmd_data_download(args: Any) -> int:
    """``mixbot data download --source yahoo SYMBOL... [--interval 1d] [--from] [--to]``: bars
    into the cache with a progress bar, a summary table and a quality report per symbol.
    Exit status 0; 1 when a symbol failed (the others are still downloaded)."""
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from mixbot.venues.upstox.data.candle_cache import sanitise_key
    from mixbot.venues.yahoo.client import default_limiter
    from mixbot.venues.yahoo.hosts import api_base

    interval = args.interval or "1d"
    cache_interval(interval)
    start, end = _dates(args)
    cache_dir = Path(args.cache_dir) if args.cache_dir else None
    console = Console(stderr=True)
    client = ChartClient(limiter=default_limiter())
    target = api_base()
    console.print(f"Yahoo Finance {interval} bars{f' from {target}' if target else ''}; "
                  f"{ADJUSTED_NOTE}")  # fmt: skip
    table = Table(title=f"Yahoo {interval} bars (split-adjusted)", header_style="bold")
    for col in ("symbol", "bars", "first end (UTC)", "last end (UTC)"):
        table.add_column(col)
    reports, failed = [], 0
    show = not args.no_progress and sys.stderr.isatty()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, disable=not show) as bar:  # fmt: skip
        for symbol in args.symbols:
            task = bar.add_task(symbol, total=None)

            def tick(done: int, total: int, task: Any = task) -> None:
                bar.update(task, completed=done, total=max(total, 1))

            try:
                now = exchange_now(client, symbol)
                frame = fetch_bars(client, symbol, interval, start, end, cache=not args.no_cache,
                                   cache_dir=cache_dir, progress=tick, now=now)  # fmt: skip
            except YahooError as exc:
                failed += 1
                console.print(f"[red]{symbol}: {exc}[/red] (what was fetched is cached)")
                table.add_row(symbol, "failed", "-", "-")
                continue
            first = f"{frame.index[0]:%Y-%m-%d %H:%M}" if len(frame) else "-"
            last = f"{frame.index[-1]:%Y-%m-%d %H:%M}" if len(frame) else "-"
            table.add_row(symbol, f"{len(frame):,}", first, last)
            reports.append(quality_report(frame, f"{symbol} {interval}"))
            if args.out:
                out_dir = Path(args.out)
                out_dir.mkdir(parents=True, exist_ok=True)
                target_csv = out_dir / f"{sanitise_key(symbol)}_{interval}.csv"
                export = frame.copy()
                export.index = export.index.tz_localize("UTC")
                export.to_csv(target_csv, date_format="%Y-%m-%dT%H:%M:%S%z")
                console.print(f"wrote {target_csv}")
    Console().print(table)
    for text in reports:
        print(text)
    print(f"note: {ADJUSTED_NOTE}")
    return 1 if failed else 0
