"""Engine wiring of the Binance venue: the feed of data source ``binance`` and the brokers
``binance_paper`` (the paper broker on the live Binance feed).
Called through the registry (:mod:`mixbot.venues.binance.venue`) by :mod:`mixbot.engine.build`.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from mixbot.venues.binance.config import BinanceConfig

#: Binance's default spot fee (0.1 % per fill, no BNB discount), the paper broker's
#: commission when the config sets none (the Indian charges model makes no sense here).
DEFAULT_COMMISSION = 0.001


def binance_feed(cfg: Any) -> Any:
    """The live :class:`~mixbot.venues.binance.feed.BinanceFeed` of ``cfg``."""
    from mixbot.venues.binance.feed import BinanceFeed

    m, d = cfg.market, cfg.data
    bc = BinanceConfig.of(cfg)
    return BinanceFeed(
        symbol=d.symbol,
        interval_minutes=d.interval_minutes,
        session_open_min=m.session_open_min,
        session_close_min=m.session_close_min,
        market_tz=m.timezone,
        lookback_bars=d.lookback_bars,
        stale_after_s=d.stale_after_seconds,
        close_grace_s=bc.close_grace_s,
        stop_after=dt.date.fromisoformat(d.date_to) if d.date_to else None,
        binance=bc,
        backoff_max=d.retry_interval,
        name=d.symbol,
    )


def build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any] | None:
    """``(feed, None)`` outside backtests; None in a backtest (backtest on files)."""
    if mode == "backtest":
        return None
    return binance_feed(cfg), None


def build_paper_broker(cfg: Any, feed: Any, known_tags: set[str], session: Any) -> Any:
    """The paper broker (:func:`mixbot.brokers.paper.make_broker`) of ``binance_paper``:
    ``broker.initial_balance`` in the quote asset, ``commission`` fraction (default 0.1 %),
    ``slippage_bps``, ``tick_size``."""
    make_broker = importlib.import_module("mixbot.brokers.paper").make_broker
    b = cfg.broker
    commission = DEFAULT_COMMISSION if b.commission is None else b.commission
    return make_broker(
        "paper", b.initial_balance, commission, b.slippage_bps, b.tick_size, cfg.trading.product
    )
