"""Engine wiring of the OpenAlgo venue: the session, feed and broker of one bot config.

The feed and broker share one :class:`OpenAlgoSession` (one REST client, one set of rate
limit windows: OpenAlgo limits per IP).
"""

from __future__ import annotations

from typing import Any

from mixbot.venues.openalgo.config import OpenAlgoConfig, OpenAlgoRest


class OpenAlgoSession:
    """The shared REST client of one bot (``token`` None: the key lives in the client)."""

    token = None

    def __init__(self, cfg: Any) -> None:
        self.conf = OpenAlgoConfig.of(cfg)
        self._rest: OpenAlgoRest | None = None
        self.rate_limiter: Any = None

    def client(self, **kwargs: Any) -> OpenAlgoRest:
        """The session's REST client (created on first use).

        Raises:
            OpenAlgoError: no API key.
        """
        if self._rest is None:
            self._rest = OpenAlgoRest(self.conf)
            self.rate_limiter = self._rest.windows
        return self._rest

    def close(self) -> None:
        """Nothing to close (the official client opens one HTTP connection per call)."""


def open_session(cfg: Any) -> OpenAlgoSession:
    """A new session for ``cfg``."""
    return OpenAlgoSession(cfg)


def _symbol_exchange(cfg: Any) -> tuple[str, str]:
    exchange = cfg.market.exchange if cfg.market.exchange != "OTHER" else "NSE"
    return cfg.data.symbol, exchange


def build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any] | None:
    """``(OpenAlgoFeed, None)`` outside backtests; None in a backtest (files only)."""
    if mode == "backtest":
        return None
    from mixbot.venues.openalgo.feed import OpenAlgoFeed

    session = session or open_session(cfg)
    rest = session.client()
    symbol, exchange = _symbol_exchange(cfg)
    m = cfg.market
    feed = OpenAlgoFeed(
        symbol=symbol, exchange=exchange, ws_url=session.conf.ws_url,
        api_key=session.conf.api_key, rest=rest, interval_minutes=cfg.data.interval_minutes,
        session_open_min=m.session_open_min, session_close_min=m.session_close_min,
        market_tz=m.timezone, lookback_bars=cfg.data.lookback_bars,
        backoff_max=float(cfg.data.retry_interval), name=symbol,
    )  # fmt: skip
    return feed, None


def build_broker(cfg: Any, feed: Any, known_tags: set[str], session: Any) -> Any:
    """The :class:`~mixbot.venues.openalgo.broker.OpenAlgoBroker` of ``cfg``, with the
    config's charges model (``broker.commission``; 0 = none) on its executions."""
    from mixbot.brokers.charges import IndianEquityCharges
    from mixbot.brokers.comminfo import IndianEquityCommInfo
    from mixbot.venues.openalgo.broker import OpenAlgoBroker, product_code

    session = session or open_session(cfg)
    symbol, exchange = _symbol_exchange(cfg)
    broker = OpenAlgoBroker(
        rest=session.client(), symbol=symbol, exchange=exchange,
        product=product_code(cfg.trading.product, exchange), strategy=session.conf.strategy,
        known_tags=known_tags or (),
    )  # fmt: skip
    product = cfg.trading.product
    broker.addcommissioninfo(
        IndianEquityCommInfo(  # type: ignore[call-arg]  # Backtrader metaclass params
            charges=IndianEquityCharges.from_config(cfg.broker.commission, product),
            product=product,
        )
    )
    return broker
