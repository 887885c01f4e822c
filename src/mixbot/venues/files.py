"""The file venue: bars from a data file (``data.data_source`` csv and replay).

csv: the whole file preloaded as an array feed (backtests, as fast as possible; in a paper
session too). replay: the file played bar by bar (or tick by tick) as a live session, at
``data.speed``. Bars are read and checked by :func:`mixbot.feeds.series.prepare_series`.
"""

from __future__ import annotations

import importlib
from typing import Any

from mixbot.venues.registry import VenueSpec, register


def file_series(cfg: Any, aggregate: bool, date_from: str | None, date_to: str | None) -> Any:
    """The checked bars of ``cfg``'s data file (a :class:`~mixbot.feeds.series.BarSeries`),
    aggregated to ``data.interval`` when ``aggregate``; ``date_from`` / ``date_to`` (ISO
    dates, market time zone) override the config's.

    Raises:
        ConfigError: ``data.path`` is not set.
        DataFileError: the file cannot be read.
    """
    from mixbot.errors import ConfigError
    from mixbot.feeds.series import prepare_series

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


def build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any]:
    """``(feed, bars)``: a preloaded array feed in a backtest, else a replay feed."""
    # imported by name: Backtrader's metaclass parameters are untyped and mypy does not
    # check the Backtrader feeds yet (it would, following a static import from this package)
    ArrayFeed = importlib.import_module("mixbot.feeds.arrayfeed").ArrayFeed
    ReplayFeed = importlib.import_module("mixbot.feeds.replay").ReplayFeed
    if mode == "backtest":
        series = file_series(cfg, True, date_from, date_to)
        return ArrayFeed(series=series, name=cfg.data.symbol), series
    m = cfg.market
    series = file_series(cfg, False, date_from, date_to)
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


def check_symbol(sym: str) -> tuple[str, str] | None:
    """Any non-blank name: the file holds one instrument, the symbol only names it."""
    return None if sym.strip() else ("empty symbol", "")


SPEC = register(
    VenueSpec(
        name="files",
        summary="bars from a data file: csv (backtests) or replay (a paper session)",
        data_sources=("csv", "replay"),
        build_feed=build_feed,
        check_symbol=check_symbol,
    )
)
