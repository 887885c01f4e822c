"""The OpenAlgo bridge venue's registration (NSE / BSE / NFO / MCX through an OpenAlgo
server and the broker behind it).

Broker type ``openalgo`` (real orders) and data source ``openalgo`` (the market-data
websocket, warmed up from ``history``); the ``openalgo`` config section (host, ws_url,
api_key as a ``${VAR}`` secret, strategy). Intervals: the feed builds bars from 1-minute
bars, so every interval of the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mixbot.venues.openalgo.config import SCHEMA
from mixbot.venues.registry import VenueSpec, register


def _config_section(cfg: Any) -> Any:
    from mixbot.venues.openalgo.config import OpenAlgoConfig

    return OpenAlgoConfig.of(cfg)


def _open_session(cfg: Any) -> Any:
    from mixbot.venues.openalgo.wiring import open_session

    return open_session(cfg)


def _build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any] | None:
    from mixbot.venues.openalgo.wiring import build_feed

    return build_feed(cfg, mode, date_from, date_to, session)


def _build_broker(cfg: Any, feed: Any, known_tags: set[str], session: Any) -> Any:
    from mixbot.venues.openalgo.wiring import build_broker

    return build_broker(cfg, feed, known_tags, session)


def _feed_test(args: Any) -> int:
    from mixbot.venues.openalgo.feedtest import cmd_feed_test

    return cmd_feed_test(args)


def _secrets(
    broker_type: str | None, data_source: str | None
) -> Sequence[tuple[tuple[str, ...], str]]:
    if broker_type == "openalgo" or data_source == "openalgo":
        return [(("openalgo", "api_key"), "the OpenAlgo API key")]
    return []


SPEC = register(
    VenueSpec(
        name="openalgo",
        summary="OpenAlgo bridge: real orders (openalgo) and live data through an OpenAlgo server",
        broker_types=("openalgo",),
        data_sources=("openalgo",),
        live=True,
        config_section=_config_section,
        open_session=_open_session,
        build_feed=_build_feed,
        build_broker=_build_broker,
        secrets=_secrets,
        cli_modules=("mixbot.venues.openalgo.cli",),
        feed_test=_feed_test,
        config_schema=SCHEMA,
        secret_fields=("api_key",),
    )
)
