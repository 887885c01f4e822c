"""Engine wiring of the Interactive Brokers venue: the session, feed and broker of a config.

The feed and the broker share one :class:`~mixbot.venues.ibkr.session.IbkrSession` (one
API connection, one client id). Called through the registry (:mod:`.venue`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mixbot.venues.ibkr.config import IbkrConfig


def open_session(cfg: Any) -> Any:
    """A new (not yet connected) :class:`~mixbot.venues.ibkr.session.IbkrSession`."""
    from mixbot.venues.ibkr.session import IbkrSession

    return IbkrSession(IbkrConfig.of(cfg))


def ibkr_feed(cfg: Any, session: Any) -> Any:
    """The live ``ibkr`` feed of ``cfg`` on ``session``."""
    from mixbot.venues.ibkr.feed import IbkrFeed

    m, d = cfg.market, cfg.data
    return IbkrFeed(
        session=session,
        symbol=d.symbol,
        interval_minutes=d.interval_minutes,
        session_open_min=m.session_open_min,
        session_close_min=m.session_close_min,
        market_tz=m.timezone,
        lookback_bars=d.lookback_bars,
        stale_after_s=float(d.stale_after_seconds),
        stop_after=dt.date.fromisoformat(d.date_to) if d.date_to else None,
        use_rth=IbkrConfig.of(cfg).use_rth,
        name=d.symbol,
    )


def build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any] | None:
    """``(feed, None)`` outside backtests; None in a backtest (files only)."""
    if mode == "backtest":
        return None
    return ibkr_feed(cfg, session or open_session(cfg)), None


def build_broker(cfg: Any, feed: Any, known_tags: set[str], session: Any) -> Any:
    """The :class:`~mixbot.venues.ibkr.broker.IbkrBroker` of ``cfg`` on the feed's session
    (a new one when the feed is not IB's). Charges: IB's commission reports."""
    import backtrader as bt

    from mixbot.venues.ibkr.broker import IbkrBroker

    broker = IbkrBroker(
        session=session or open_session(cfg),
        symbol=cfg.data.symbol,
        known_tags=known_tags or (),
        tag_prefix=f"{cfg.bot_id}:",
    )
    # the commission of each fill comes from IB's commissionReport, not from a model
    broker.addcommissioninfo(
        bt.CommInfoBase(commission=0.0, stocklike=True, commtype=bt.CommInfoBase.COMM_PERC)
    )
    return broker
