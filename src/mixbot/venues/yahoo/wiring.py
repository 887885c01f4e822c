"""Engine wiring of the Yahoo data source: the feed of one bot config.

* backtest: the bars of ``data.from`` .. ``data.to`` from the local cache, topped up from
  Yahoo (:func:`mixbot.venues.yahoo.data.fetch_bars`), preloaded as an array feed;
* paper / live: the polling :class:`~mixbot.venues.yahoo.feed.YahooFeed`.

Yahoo has no broker: a Yahoo bot trades on the paper (or mock) broker.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from mixbot.errors import ConfigError
from mixbot.venues.yahoo.config import YahooConfig

#: the Yahoo chart interval a strategy bar size is fetched at in a backtest
_FETCH = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1h", "1d": "1d"}


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def backtest_series(cfg: Any, date_from: str | None, date_to: str | None) -> Any:
    """The checked bars of a backtest: downloaded into the cache, read back from it.

    Raises:
        ConfigError: a range Yahoo does not serve; YahooError: Yahoo failed.
    """
    from mixbot.feeds.series import prepare_series
    from mixbot.venues.upstox.data.candle_cache import CandleCache
    from mixbot.venues.yahoo.client import ChartClient, default_limiter
    from mixbot.venues.yahoo.data import DEFAULT_CACHE_DIR, cache_interval, exchange_now, fetch_bars

    y = YahooConfig.of(cfg)
    interval = _FETCH[cfg.data.interval]
    client = ChartClient(y.api, limiter=default_limiter())
    m = cfg.market
    close = dt.time(m.session_close_min // 60, m.session_close_min % 60)
    start, end = _date(date_from or cfg.data.date_from), _date(date_to or cfg.data.date_to)
    now = exchange_now(client, cfg.data.symbol)
    frame = fetch_bars(client, cfg.data.symbol, interval, start, end, tz=m.timezone,
                       session_close=close, now=now)  # fmt: skip
    if frame.empty:
        raise ConfigError(f"{cfg.source_file}: Yahoo has no {interval} bars of "
                          f"{cfg.data.symbol} in that range")  # fmt: skip
    path = CandleCache(DEFAULT_CACHE_DIR, cfg.data.symbol, cache_interval(interval)).csv
    return prepare_series(
        path,
        interval_minutes=cfg.data.interval_minutes,
        tz=m.timezone,
        session_open_min=m.session_open_min,
        session_close_min=m.session_close_min,
        date_from=date_from or cfg.data.date_from,
        date_to=date_to or cfg.data.date_to,
    )


def yahoo_feed(cfg: Any, **overrides: Any) -> Any:
    """The polling :class:`~mixbot.venues.yahoo.feed.YahooFeed` of ``cfg`` (``overrides``:
    feed params, e.g. ``client_factory`` / ``clock`` in tests)."""
    from mixbot.venues.yahoo.feed import YahooFeed

    y, m = YahooConfig.of(cfg), cfg.market

    def client_factory(sleep: Any) -> Any:
        from mixbot.venues.yahoo.client import ChartClient, default_limiter

        return ChartClient(y.api, limiter=default_limiter(), sleep=sleep)

    params: dict[str, Any] = {
        "symbol": cfg.data.symbol,
        "interval_minutes": cfg.data.interval_minutes,
        "session_open_min": m.session_open_min,
        "session_close_min": m.session_close_min,
        "market_tz": m.timezone,
        "lookback_bars": cfg.data.lookback_bars,
        "stale_after_s": cfg.data.stale_after_seconds,
        "poll_s": y.poll_seconds,
        "close_grace_s": y.close_grace_seconds,
        "stop_after": _date(cfg.data.date_to),
        "client_factory": client_factory,
        "name": cfg.data.symbol,
    }
    params.update(overrides)
    return YahooFeed(**params)


def build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any]:
    """Registry hook: ``(array feed, bars)`` in a backtest, else ``(YahooFeed, None)``."""
    if mode == "backtest":
        array_feed = importlib.import_module("mixbot.feeds.arrayfeed").ArrayFeed
        series = backtest_series(cfg, date_from, date_to)
        return array_feed(series=series, name=cfg.data.symbol), series
    return yahoo_feed(cfg), None
