"""The Binance venue's registration (spot, through ccxt 4.5).

* data source ``binance``: klines over the market websocket, REST warm-up and back-fill;
* broker ``binance_paper``: the paper broker on that live feed (paper store, no real order);
* broker ``binance``: real spot orders: NOT supported yet (refused by the validator); the
  order layer it will stand on is :mod:`mixbot.venues.binance.orders`.

Config section ``binance`` (root of a bot config): hosts, ``api_key`` / ``api_secret`` as
``${VAR}`` (:mod:`mixbot.venues.binance.config`). Intervals: Binance klines come in 1m .. 1d;
the feed streams 1-minute candles and aggregates them, so every interval of the schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from mixbot.venues.binance.config import SCHEMA, SECRET_FIELDS
from mixbot.venues.registry import VenueSpec, register


def _config_section(cfg: Any) -> Any:
    from mixbot.venues.binance.config import BinanceConfig

    return BinanceConfig.of(cfg)


def _build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any] | None:
    from mixbot.venues.binance.wiring import build_feed

    return build_feed(cfg, mode, date_from, date_to, session)


def _build_paper(cfg: Any, feed: Any, known_tags: set[str], session: Any) -> Any:
    from mixbot.venues.binance.wiring import build_paper_broker

    return build_paper_broker(cfg, feed, known_tags, session)


def _feed_test(args: Any) -> int:
    from mixbot.venues.binance.feedtest import cmd_feed_test

    return cmd_feed_test(args)


def _secrets(
    broker_type: str | None, data_source: str | None
) -> Sequence[tuple[tuple[str, ...], str]]:
    if broker_type != "binance":
        return []  # market data is public
    return [(("binance", "api_key"), "the Binance API key"),
            (("binance", "api_secret"), "the Binance API secret")]  # fmt: skip


def _check_symbol(sym: str) -> tuple[str, str] | None:
    s = sym.replace("/", "")
    if not s.isalnum() or s.upper() != s:
        return ("not a Binance spot symbol", "write it as Binance does, e.g. BTCUSDT")
    return None


def _check_paper(doc: dict[str, Any], bot_id: str) -> Iterator[tuple[tuple[str, ...], str, str]]:
    if doc.get("data", {}).get("data_source") != "binance":
        yield (("data", "data_source"), "binance_paper trades on the live Binance feed",
               'set data.data_source to "binance"')  # fmt: skip


PAPER = register(
    VenueSpec(
        name="binance_paper",
        summary="Binance spot paper trading: the paper broker on the live Binance feed",
        broker_types=("binance_paper",),
        build_broker=_build_paper,
        check_config=_check_paper,
    )
)
#: Real orders: the order layer (:mod:`mixbot.venues.binance.orders`, user data over the
#: WebSocket API, crash-safe client order ids) is built and tested against the simulator;
#: the Backtrader broker on it is not, so the validator refuses ``broker.type: binance``.
LIVE = register(
    VenueSpec(
        name="binance_live",
        summary="Binance spot real orders (not supported yet: the Backtrader broker on the "
        "order layer is missing; use binance_paper)",
        broker_types=("binance",),
        available=False,
    )
)
SPEC = register(
    VenueSpec(
        name="binance",
        summary="Binance spot: live klines over the market websocket (data source binance)",
        data_sources=("binance",),
        config_section=_config_section,
        build_feed=_build_feed,
        secrets=_secrets,
        cli_modules=("mixbot.simulators.binance.cli",),
        check_symbol=_check_symbol,
        config_schema=SCHEMA,
        secret_fields=SECRET_FIELDS,
        feed_test=_feed_test,
    )
)
