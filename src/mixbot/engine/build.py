"""Config -> Backtrader ``Cerebro``: feed, broker, CustomStrategy, risk manager, journal.

``mode`` is ``"backtest"`` (preloaded array feed, as fast as possible), ``"paper"`` (the
configured source as a live feed: replay or Upstox) or ``"live"`` (the Upstox feed and the
:class:`~mixbot.venues.upstox.broker.UpstoxBroker`: real orders, broker type upstox or
upstox_sandbox). The strategy code is the same in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import backtrader as bt

from mixbot.config.model import BotConfig
from mixbot.engine.journal import Journal
from mixbot.errors import ConfigError
from mixbot.feeds.series import BarSeries, prepare_series
from mixbot.market.registry import profile_for
from mixbot.risk.manager import RiskManager
from mixbot.strategy import registry
from mixbot.strategy.custom import BotRuntime, CustomStrategy, window_size


@dataclass
class Built:
    """A ready-to-run bot: the Cerebro, the runtime the strategy fills, the bars and the feed."""

    cerebro: bt.Cerebro
    runtime: BotRuntime
    series: BarSeries | None  # None for live feeds
    feed: Any
    mode: str


def _series(
    cfg: BotConfig, aggregate: bool, date_from: str | None, date_to: str | None
) -> BarSeries:
    if cfg.data.path is None:
        raise ConfigError(
            f"{cfg.source_file}: data.path is required for data source {cfg.data.data_source!r}"
        )
    m = cfg.market
    return prepare_series(
        cfg.data.path,
        interval_minutes=cfg.data.interval_minutes,
        tz=m.timezone,
        session_open_min=m.session_open_min,
        session_close_min=m.session_close_min,
        date_from=date_from or cfg.data.date_from,
        date_to=date_to or cfg.data.date_to,
        aggregate=aggregate,
    )


def upstox_feed(cfg: BotConfig, session: Any = None) -> Any:
    """The live Upstox market-data feed for ``cfg`` (symbol resolved through the instruments
    master); its REST clients come from ``session`` (an
    :class:`~mixbot.venues.upstox.session.UpstoxSession` shared with the broker; default a new one).

    Raises:
        UpstoxError: the instruments master cannot be had, the symbol is unknown, or no token.
    """
    import datetime as dt

    from mixbot.venues.upstox.feed import UpstoxFeed
    from mixbot.venues.upstox.instruments import InstrumentMaster
    from mixbot.venues.upstox.session import UpstoxSession

    session = session or UpstoxSession(_secret(cfg, "access_token"))

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
        name=symbol,
    )


#: Broker types that send real orders to Upstox (the store opens in "live" mode for them).
UPSTOX_BROKERS = ("upstox", "upstox_sandbox")


def _secret(cfg: BotConfig, field: str) -> str | None:
    """The value of the ``${VAR}`` a broker secret refers to (validated present), or None."""
    import os

    from mixbot.config.secrets import referenced_vars

    ref = (cfg.raw.get("broker") or {}).get(field)
    for var in referenced_vars(ref) if isinstance(ref, str) else []:
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return None


def upstox_broker(
    cfg: BotConfig, feed: Any, known_tags: set[str] | None = None, session: Any = None
) -> Any:
    """The :class:`~mixbot.venues.upstox.broker.UpstoxBroker` for ``cfg`` (type upstox or
    upstox_sandbox), trading the instrument of ``feed``. ``known_tags``: the stored session's
    order tags when resuming (adopted from Upstox, never re-sent blindly). ``session``: the
    :class:`~mixbot.venues.upstox.session.UpstoxSession` shared with the feed (one token, one
    standard-API rate limiter per account); default a new one.

    Raises:
        ConfigError: registered_algo without algo_name.
    """
    from mixbot.brokers.charges import IndianEquityCharges
    from mixbot.brokers.comminfo import IndianEquityCommInfo
    from mixbot.venues.upstox.broker import UpstoxBroker
    from mixbot.venues.upstox.orders import OrderApi
    from mixbot.venues.upstox.portfolio import PortfolioStream
    from mixbot.venues.upstox.session import UpstoxSession

    b = cfg.broker
    sandbox = b.type == "upstox_sandbox"
    session = session or UpstoxSession(_secret(cfg, "access_token"))
    try:
        api = OrderApi(
            session.client(),
            algo_name=b.algo_name,
            registered_algo=b.registered_algo,
            sandbox=sandbox,
            sandbox_token=_secret(cfg, "sandbox_token") if sandbox else None,
        )
    except ValueError as exc:
        raise ConfigError(f"{cfg.source_file}: broker: {exc}") from exc
    broker = UpstoxBroker(
        order_api=api,
        instrument_key=feed.p.instrument_key,
        product="I" if cfg.trading.product == "intraday" else "D",
        entry_buffer_pct=b.entry_buffer_pct,
        tick_size=b.tick_size,
        exit_timeout_seconds=b.exit_timeout_seconds,
        entry_timeout_seconds=b.entry_timeout_seconds,
        poll_interval=max(1.0, min(5.0, float(cfg.data.retry_interval))),
        known_tags=known_tags or (),
        stream_factory=lambda on_update: PortfolioStream(session.client, on_update),
    )
    product = cfg.trading.product
    broker.addcommissioninfo(
        IndianEquityCommInfo(
            charges=IndianEquityCharges.from_config(b.commission, product), product=product
        )
    )
    return broker


def make_feed(
    cfg: BotConfig,
    mode: str,
    date_from: str | None = None,
    date_to: str | None = None,
    session: Any = None,
) -> tuple[Any, BarSeries | None]:
    """The Backtrader feed for ``mode`` and the bars it is built from (None for a live feed);
    ``session``: the Upstox session an upstox feed shares with the broker.

    Raises:
        ConfigError: a data source this mode cannot use yet (yahoo/upstox need their venue modules).
        DataFileError: the data file cannot be read.
    """
    from mixbot.feeds.arrayfeed import ArrayFeed
    from mixbot.feeds.replay import ReplayFeed

    src = cfg.data.data_source
    if len(cfg.trading.symbols) > 1:
        raise ConfigError(
            f"{cfg.source_file}: one symbol per bot is supported for now "
            f"(trading.symbols has {len(cfg.trading.symbols)})"
        )
    if src == "upstox" and mode != "backtest":
        return upstox_feed(cfg, session), None
    if src not in ("csv", "replay"):
        raise ConfigError(
            f"{cfg.source_file}: data source {src!r} is not available in this version yet; "
            "use csv (backtest) or replay (paper session) with a data file"
        )
    m = cfg.market
    if mode == "backtest":
        series = _series(cfg, True, date_from, date_to)
        return ArrayFeed(series=series, name=cfg.data.symbol), series
    series = _series(cfg, False, date_from, date_to)
    feed = ReplayFeed(
        series=series,
        interval_minutes=cfg.data.interval_minutes,
        speed=cfg.data.speed,
        as_ticks=cfg.data.replay_as == "ticks",
        session_open_min=m.session_open_min,
        session_close_min=m.session_close_min,
        market_tz=m.timezone,
        name=cfg.data.symbol,
    )
    return feed, series


def resume_point(
    cfg: BotConfig,
    source: BarSeries,
    last_done: int,
    window: int,
    date_from: str | None,
    date_to: str | None,
) -> tuple[int, int]:
    """Where a restarted replay starts: ``(first strategy bar, first source row)``.

    The replay re-plays ``window`` strategy bars up to and including ``last_done`` (the
    checkpoint's bar) so the indicator window is exactly as it was; those bars only warm up.
    Strategy bars equal source rows unless the file is aggregated, in which case the
    aggregated series (the same aggregator the replay uses) maps one to the other.
    """
    import numpy as np

    start_abs = max(0, last_done + 1 - window)
    if start_abs == 0:
        return 0, 0
    direct = (
        source.source_interval_s >= cfg.data.interval_minutes * 60 and cfg.data.replay_as != "ticks"
    )
    if direct:
        return start_abs, start_abs
    agg = _series(cfg, True, date_from, date_to)
    start_src = int(np.searchsorted(source.end, agg.end[start_abs - 1], side="right"))
    return start_abs, start_src


def build(
    cfg: BotConfig,
    mode: str = "backtest",
    *,
    persist: Any = None,
    checkpoint: dict[str, Any] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    console_level: str | None = None,
    progress: Any = None,
    logs_root: Any = None,
) -> Built:
    """Assemble the Cerebro for ``cfg``.

    Raises:
        ConfigError: the broker type or data source is not usable in ``mode`` here.
    """
    from pathlib import Path

    from mixbot.brokers.paper import make_broker

    if cfg.broker.type not in ("paper", "mock", *UPSTOX_BROKERS):
        raise ConfigError(
            f"{cfg.source_file}: broker type {cfg.broker.type!r} is not available in this "
            "version yet; use paper (or mock), or upstox / upstox_sandbox"
        )
    if cfg.broker.type in UPSTOX_BROKERS and (
        cfg.data.data_source != "upstox" or mode == "backtest"
    ):
        raise ConfigError(
            f"{cfg.source_file}: broker type {cfg.broker.type!r} trades live: it needs "
            'data.data_source "upstox" and `mixbot run` (not a backtest)'
        )
    session = None
    if cfg.data.data_source == "upstox":
        from mixbot.venues.upstox.session import UpstoxSession

        session = UpstoxSession(_secret(cfg, "access_token"))
    feed, series = make_feed(cfg, mode, date_from, date_to, session)
    journal = Journal(
        cfg.bot_id,
        cfg.logging.log_file,
        cfg.logging.level,
        cfg.logging.save_trades,
        cfg.market.timezone,
        root=Path(logs_root) if logs_root else Path("logs") / cfg.bot_id,
        console_level=console_level,
    )
    journal.log.info("bot %s starting in %s mode: %s", cfg.bot_id, mode, cfg.description)
    if series is not None:
        journal.log.info("data: %s", series.report.render().replace("\n", " | "))
    entry = registry.get("entry", cfg.entry.name).cls(cfg.entry.params)
    exit_ = registry.get("exit", cfg.exit.name).cls(cfg.exit.params)
    risk = RiskManager(
        cfg.trading,
        cfg.risk,
        cfg.market,
        intraday_bars=cfg.data.interval_minutes < 1440,
        profile=profile_for(cfg),
    )
    runtime = BotRuntime(
        config=cfg, entry=entry, exit=exit_, risk=risk, journal=journal, progress=progress
    )
    runtime.persist = persist
    known_tags: set[str] = set()
    if checkpoint is not None and series is None:
        # live feed: the bars since the checkpoint are gone; bar indices (and so order tags)
        # continue after every index the stored session used
        stored = persist.store.orders() if persist is not None else []
        known_tags = {o["tag"] for o in stored}
        start_abs = max([checkpoint["bar_index"], *(o["bar_index"] for o in stored)]) + 1
        runtime.resume = {"start_abs": start_abs, "checkpoint": checkpoint, "live": True}
        journal.log.info(
            "resuming a live session after bar %d: new bars are numbered from %d",
            checkpoint["bar_index"],
            start_abs,
        )
    if checkpoint is not None and series is not None:
        start_abs, start_src = resume_point(
            cfg,
            series,
            checkpoint["bar_index"],
            window_size(cfg.data.lookback_bars, entry, exit_),
            date_from,
            date_to,
        )
        runtime.resume = {"start_abs": start_abs, "checkpoint": checkpoint}
        feed.p.start_at = start_src
        journal.log.info(
            "resuming after bar %d: replay starts at bar %d (source row %d) to warm up",
            checkpoint["bar_index"],
            start_abs,
            start_src,
        )
    cerebro = bt.Cerebro(
        stdstats=False, preload=(mode == "backtest"), runonce=(mode == "backtest"), quicknotify=True
    )
    cerebro.adddata(feed)
    if cfg.broker.type in UPSTOX_BROKERS:
        cerebro.broker = upstox_broker(cfg, feed, known_tags, session)
    else:
        cerebro.broker = make_broker(
            cfg.broker.type,
            cfg.broker.initial_balance,
            cfg.broker.commission,
            cfg.broker.slippage_bps,
            cfg.broker.tick_size,
            cfg.trading.product,
        )
    cerebro.addstrategy(CustomStrategy, runtime=runtime)
    return Built(cerebro, runtime, series, feed, mode)
