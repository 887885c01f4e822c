"""Engine wiring of the Upstox venue: the session, feed and broker of one bot config.

The feed and the broker share one :class:`~mixbot.venues.upstox.session.UpstoxSession`
(one token, one standard-API rate limiter per account). Called through the venue registry
(:mod:`mixbot.venues.upstox.venue`) by :mod:`mixbot.engine.build`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mixbot.config.secrets import broker_secret
from mixbot.errors import ConfigError
from mixbot.venues.upstox.config import UpstoxBrokerConfig


def open_session(cfg: Any) -> Any:
    """A new :class:`~mixbot.venues.upstox.session.UpstoxSession` with the config's access
    token (None: the client's own lookup, ``$UPSTOX_ACCESS_TOKEN`` or the login token file)."""
    from mixbot.venues.upstox.session import UpstoxSession

    return UpstoxSession(broker_secret(cfg, "access_token"))


def upstox_feed(cfg: Any, session: Any = None) -> Any:
    """The live Upstox market-data feed for ``cfg`` (symbol resolved through the instruments
    master); its REST clients come from ``session`` (default a new one).

    Raises:
        UpstoxError: the instruments master cannot be had, the symbol is unknown, or no token.
    """
    from mixbot.venues.upstox.instruments import InstrumentMaster
    from mixbot.venues.upstox.ws.feed import UpstoxFeed

    session = session or open_session(cfg)
    symbol = cfg.data.symbol
    exchange = {"NFO": "NSE", "OTHER": "NSE"}.get(cfg.market.exchange, cfg.market.exchange)
    key = (
        symbol
        if "|" in symbol
        else InstrumentMaster.load(("NSE",) if exchange == "NSE" else (exchange,))
        .resolve(symbol, exchange=exchange)
        .instrument_key
    )
    m = cfg.market
    return UpstoxFeed(
        instrument_key=key,
        interval_minutes=cfg.data.interval_minutes,
        session_open_min=m.session_open_min,
        session_close_min=m.session_close_min,
        market_tz=m.timezone,
        lookback_bars=cfg.data.lookback_bars,
        stale_after_s=cfg.data.stale_after_seconds,
        backoff_max=cfg.data.retry_interval,
        stop_after=dt.date.fromisoformat(cfg.data.date_to) if cfg.data.date_to else None,
        client_factory=session.client,
        token_gate=session.gate,
        name=symbol,
    )


def build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any] | None:
    """``(feed, None)`` outside backtests (a live feed has no preloaded bars); None in a
    backtest (this version backtests on files only)."""
    if mode == "backtest":
        return None
    return upstox_feed(cfg, session), None


def account_order_limiter(cfg: Any, client: Any, registered_algo: bool) -> Any:
    """The order-call limiter shared by every bot process on this host that trades the same
    Upstox account (same access token): 10 orders/s together (50 for a registered algo),
    500/min, 2000/30 min (:mod:`mixbot.venues.upstox.http.ratelimit`). Its files sit in the
    store's lock folder (``data/locks/``); the account's name there is a digest of the token.
    None (each bot its own limiter) when the token cannot be read yet: the broker's first call
    then reports the missing token."""
    from mixbot.service.locks import lock_dir
    from mixbot.store.db import resolve_url
    from mixbot.venues.shared_limits import SharedWindowLimiter, account_key
    from mixbot.venues.upstox.http.errors import UpstoxError
    from mixbot.venues.upstox.http.ratelimit import ORDER_LIMITS, ORDER_LIMITS_REGISTERED

    try:
        token = client.token
    except UpstoxError:
        return None
    limits = ORDER_LIMITS_REGISTERED if registered_algo else ORDER_LIMITS
    folder = lock_dir(resolve_url(cfg.database_url, "live"))
    return SharedWindowLimiter(limits, folder, f"upstox-{account_key('upstox', token)}-orders")


def upstox_broker(
    cfg: Any, feed: Any, known_tags: set[str] | None = None, session: Any = None
) -> Any:
    """The :class:`~mixbot.venues.upstox.execution.broker.UpstoxBroker` for ``cfg`` (type upstox or
    upstox_sandbox), trading the instrument of ``feed``. ``known_tags``: the stored session's
    order tags when resuming (adopted from Upstox, never re-sent blindly). ``session``: the
    session shared with the feed; default a new one.

    Raises:
        ConfigError: registered_algo without algo_name.
    """
    from mixbot.brokers.charges import IndianEquityCharges
    from mixbot.brokers.comminfo import IndianEquityCommInfo
    from mixbot.venues.upstox.execution.broker import UpstoxBroker
    from mixbot.venues.upstox.execution.orders import OrderApi
    from mixbot.venues.upstox.portfolio import PortfolioStream

    b, u = cfg.broker, UpstoxBrokerConfig.of(cfg)
    session = session or open_session(cfg)
    client = session.client()
    try:
        api = OrderApi(
            client,
            algo_name=u.algo_name,
            registered_algo=u.registered_algo,
            limiter=account_order_limiter(cfg, client, u.registered_algo),
            sandbox=u.sandbox,
            sandbox_token=broker_secret(cfg, "sandbox_token") if u.sandbox else None,
        )
    except ValueError as exc:
        raise ConfigError(f"{cfg.source_file}: broker: {exc}") from exc
    broker = UpstoxBroker(
        order_api=api,
        instrument_key=feed.p.instrument_key,
        product="I" if cfg.trading.product == "intraday" else "D",
        entry_buffer_pct=u.entry_buffer_pct,
        tick_size=b.tick_size,
        exit_timeout_seconds=u.exit_timeout_seconds,
        entry_timeout_seconds=u.entry_timeout_seconds,
        poll_interval=max(1.0, min(5.0, float(cfg.data.retry_interval))),
        known_tags=known_tags or (),
        tag_prefix=f"{cfg.bot_id}:",
        outside_policy=u.outside_positions,
        stream_factory=lambda on_update: PortfolioStream(session.client, on_update),
    )
    product = cfg.trading.product
    broker.addcommissioninfo(
        IndianEquityCommInfo(  # type: ignore[call-arg]  # Backtrader metaclass params
            charges=IndianEquityCharges.from_config(b.commission, product), product=product
        )
    )
    return broker


def build_broker(cfg: Any, feed: Any, known_tags: set[str], session: Any) -> Any:
    """Registry hook: :func:`upstox_broker`."""
    return upstox_broker(cfg, feed, known_tags, session)
