"""The Interactive Brokers venue's registration (TWS / IB Gateway through ib_async 2.1).

Broker type ``ibkr`` (real orders through TWS / IB Gateway; live) and data source ``ibkr``
(1-minute history for warm-up, 5-second real-time bars live). Its own config section is
``ibkr`` (:mod:`.config`: host, port, client id, contract). Intervals: the feed builds
every minute-based interval from 5-second bars; daily bars are not served in this version.
``mixbot ibkr-sim`` (:mod:`mixbot.simulators.ibkr`) is the local stand-in for TWS.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mixbot.venues.ibkr.config import SCHEMA
from mixbot.venues.registry import VenueSpec, register


def _config_section(cfg: Any) -> Any:
    from mixbot.venues.ibkr.config import IbkrConfig

    return IbkrConfig.of(cfg)


def _open_session(cfg: Any) -> Any:
    from mixbot.venues.ibkr.wiring import open_session

    return open_session(cfg)


def _build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any] | None:
    from mixbot.venues.ibkr.wiring import build_feed

    return build_feed(cfg, mode, date_from, date_to, session)


def _build_broker(cfg: Any, feed: Any, known_tags: set[str], session: Any) -> Any:
    from mixbot.venues.ibkr.wiring import build_broker

    return build_broker(cfg, feed, known_tags, session)


def _panic(
    cfg: Any,
    *,
    reason: str,
    confirm: Callable[[str], bool],
    say: Callable[..., None],
    database_url: str | None = None,
) -> int:
    from mixbot.venues.ibkr.panic import panic_config

    return panic_config(cfg, reason=reason, confirm=confirm, say=say, database_url=database_url)


def _feed_test(args: argparse.Namespace) -> int:
    from mixbot.venues.ibkr.feedtest import run

    return run(args)


SPEC = register(
    VenueSpec(
        name="ibkr",
        summary="Interactive Brokers: real orders (ibkr) and live bars through TWS / IB Gateway",
        broker_types=("ibkr",),
        data_sources=("ibkr",),
        intervals=frozenset({"1m", "5m", "15m", "30m", "1h", "4h"}),
        live=True,
        config_section=_config_section,
        config_schema=SCHEMA,
        open_session=_open_session,
        build_feed=_build_feed,
        build_broker=_build_broker,
        panic=_panic,
        feed_test=_feed_test,
        cli_modules=("mixbot.venues.ibkr.cli",),
    )
)
