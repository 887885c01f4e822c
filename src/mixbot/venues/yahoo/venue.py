"""The Yahoo Finance venue's registration (data source ``yahoo``; no broker).

``yahoo``: Yahoo's v8 chart API through yfinance (:mod:`.client`), polled as a live feed
(:mod:`.feed`) or downloaded into the local cache for backtests and ``mixbot data download
--source yahoo`` (:mod:`.data`). A Yahoo bot trades on the paper or mock broker. Intervals:
the chart API's 1m, 5m, 15m, 30m, 1h (60m) and 1d (no 4h). Hosts: ``MIXBOT_YAHOO_API`` or
the config's ``yahoo.api`` (:mod:`.hosts`); the simulator is ``mixbot yahoo-sim``
(:mod:`mixbot.simulators.yahoo`).
"""

from __future__ import annotations

import re
from typing import Any

from mixbot.venues.registry import VenueSpec, register
from mixbot.venues.yahoo.config import SCHEMA

#: A Yahoo Finance ticker (RELIANCE.NS, ^NSEI, TCS.BO, BTC-USD).
YAHOO_TICKER = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9.&^=_-]{0,30}$")


def check_symbol(sym: str) -> tuple[str, str] | None:
    """None for a Yahoo ticker, else ``(problem, hint)``."""
    return (
        None if YAHOO_TICKER.match(sym) else ("not a Yahoo ticker (e.g. RELIANCE.NS for NSE)", "")
    )


def _config_section(cfg: Any) -> Any:
    from mixbot.venues.yahoo.config import YahooConfig

    return YahooConfig.of(cfg)


def _build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any] | None:
    from mixbot.venues.yahoo.wiring import build_feed

    return build_feed(cfg, mode, date_from, date_to, session)


def _feed_test(args: Any) -> int:
    from mixbot.venues.yahoo.feedtest import cmd_feed_test

    return cmd_feed_test(args)


def _download(args: Any) -> int:
    from mixbot.venues.yahoo.data import cmd_data_download

    return cmd_data_download(args)


SPEC = register(
    VenueSpec(
        name="yahoo",
        summary="Yahoo Finance: polled chart bars (live feed), history download and cache",
        data_sources=("yahoo",),
        intervals=frozenset({"1m", "5m", "15m", "30m", "1h", "1d"}),
        config_section=_config_section,
        config_schema=SCHEMA,
        build_feed=_build_feed,
        cli_modules=("mixbot.venues.yahoo.cli",),
        feed_test=_feed_test,
        download=_download,
        check_symbol=check_symbol,
    )
)
