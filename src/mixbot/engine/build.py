"""Config -> Backtrader ``Cerebro``: feed, broker, CustomStrategy, risk manager, journal.

``mode`` is ``"backtest"`` (preloaded array feed, as fast as possible), ``"paper"`` (the
configured source as a live feed: replay or Upstox) or ``"live"`` (a live venue's feed and
broker, e.g. Upstox: real orders). The feed, the broker and the session they share are built
by the venues that serve ``data.data_source`` and ``broker.type``
(:mod:`mixbot.venues.registry`); the engine names no venue. The strategy code is the same in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import backtrader as bt

from mixbot.config.model import BotConfig
from mixbot.engine.journal import Journal
from mixbot.errors import ConfigError
from mixbot.feeds.series import BarSeries
from mixbot.market.registry import profile_for
from mixbot.risk.manager import RiskManager
from mixbot.strategy import registry
from mixbot.strategy.custom import BotRuntime, CustomStrategy, window_size
from mixbot.venues import registry as venues


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
    from mixbot.venues.files import file_series

    series: BarSeries = file_series(cfg, aggregate, date_from, date_to)
    return series


def _venue_names(field: str) -> str:
    kinds = [
        t
        for v in venues.venues()
        if v.available and (v.build_broker if field == "broker" else v.build_feed)
        for t in (v.broker_types if field == "broker" else v.data_sources)
    ]
    return ", ".join(kinds)


def make_feed(
    cfg: BotConfig,
    mode: str,
    date_from: str | None = None,
    date_to: str | None = None,
    session: Any = None,
) -> tuple[Any, BarSeries | None]:
    """The Backtrader feed for ``mode`` and the bars it is built from (None for a live feed),
    built by the data source's venue (:mod:`mixbot.venues.registry`); ``session``: the venue
    session the feed shares with the broker.

    Raises:
        ConfigError: a data source this mode cannot use (yet).
        DataFileError: the data file cannot be read.
    """
    src = cfg.data.data_source
    if len(cfg.trading.symbols) > 1:
        raise ConfigError(
            f"{cfg.source_file}: one symbol per bot is supported for now "
            f"(trading.symbols has {len(cfg.trading.symbols)})"
        )
    venue = venues.for_source(src)
    built = None
    if venue is not None and venue.available and venue.build_feed is not None:
        built = venue.build_feed(cfg, mode, date_from, date_to, session)
    if built is None:
        raise ConfigError(
            f"{cfg.source_file}: data source {src!r} is not available in this version yet; "
            "use csv (backtest) or replay (paper session) with a data file"
        )
    feed, series = built
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

    bvenue = venues.for_broker(cfg.broker.type)
    if bvenue is None or not bvenue.available or bvenue.build_broker is None:
        raise ConfigError(
            f"{cfg.source_file}: broker type {cfg.broker.type!r} is not available in this "
            f"version yet; use one of: {_venue_names('broker')}"
        )
    if bvenue.live and (cfg.data.data_source not in bvenue.data_sources or mode == "backtest"):
        raise ConfigError(
            f"{cfg.source_file}: broker type {cfg.broker.type!r} trades live: it needs "
            f"data.data_source {' or '.join(repr(s) for s in bvenue.data_sources)} and "
            "`mixbot run` (not a backtest)"
        )
    dvenue = venues.for_source(cfg.data.data_source)
    session = None
    if dvenue is not None and dvenue.open_session is not None:
        session = dvenue.open_session(cfg)
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
    entry.configure(cfg)
    exit_.configure(cfg)
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
    if checkpoint is None and series is None and persist is not None:
        # a new live session (--fresh): tags continue after the erased session's bars
        runtime.bar_base = int(persist.store.bot_row().get("bar_base") or 0)
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
    # the feed's session goes to a broker of the same venue only (one account, one limiter)
    shared = session if dvenue is bvenue else None
    cerebro.broker = bvenue.build_broker(cfg, feed, known_tags, shared)
    cerebro.addstrategy(CustomStrategy, runtime=runtime)
    return Built(cerebro, runtime, series, feed, mode)
