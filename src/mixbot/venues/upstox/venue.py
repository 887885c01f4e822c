"""The Upstox venue's registration (NSE / BSE / MCX through the Upstox API v2/v3).

Broker types: ``upstox`` (real orders, live money) and ``upstox_sandbox`` (Upstox's sandbox
order endpoints); data source ``upstox`` (the market-data websocket, back-filled from V3
candles). Intervals: Upstox V3 candles serve minutes 1-300, hours 1-5 and days (Upstox API
docs, "Historical Candle Data V3"), so every interval of the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mixbot.venues.registry import VenueSpec, register


def _config_section(cfg: Any) -> Any:
    from mixbot.venues.upstox.config import UpstoxBrokerConfig

    return UpstoxBrokerConfig.of(cfg)


def _open_session(cfg: Any) -> Any:
    from mixbot.venues.upstox.wiring import open_session

    return open_session(cfg)


def _build_feed(
    cfg: Any, mode: str, date_from: str | None, date_to: str | None, session: Any
) -> tuple[Any, Any] | None:
    from mixbot.venues.upstox.wiring import build_feed

    return build_feed(cfg, mode, date_from, date_to, session)


def _build_broker(cfg: Any, feed: Any, known_tags: set[str], session: Any) -> Any:
    from mixbot.venues.upstox.wiring import build_broker

    return build_broker(cfg, feed, known_tags, session)


def _panic(
    cfg: Any,
    *,
    reason: str,
    confirm: Callable[[str], bool],
    say: Callable[..., None],
    database_url: str | None = None,
) -> int:
    from mixbot.venues.upstox.panic import panic_config

    return panic_config(cfg, reason=reason, confirm=confirm, say=say, database_url=database_url)


def _feed_test(args: Any) -> int:
    from mixbot.venues.upstox.ws.feedtest import cmd_feed_test

    return cmd_feed_test(args)


def _download(args: Any) -> int:
    from mixbot.venues.upstox.cli import cmd_data_download

    return cmd_data_download(args)


def _token_expiry() -> Any:
    """Every Upstox token dies at the next 03:30 IST (:func:`auth.current_token_expiry`)."""
    from mixbot.venues.upstox.auth import current_token_expiry

    return current_token_expiry()


def _check_symbol(sym: str) -> tuple[str, str] | None:
    from mixbot.venues.upstox.symbols import check_symbol

    return check_symbol(sym)


def _check_config(doc: dict[str, Any], bot_id: str) -> Any:
    from mixbot.venues.upstox.order_tags import config_problems

    return config_problems(doc, bot_id)


def _secrets(
    broker_type: str | None, data_source: str | None
) -> Sequence[tuple[tuple[str, ...], str]]:
    from mixbot.venues.upstox.token_gate import stored_token

    needs: list[tuple[tuple[str, ...], str]] = []
    # the token of `mixbot upstox login` (the token file, still valid) does as well as the
    # variable: the session takes it when the variable is not set
    if (broker_type == "upstox" or data_source == "upstox") and stored_token() is None:
        needs.append((("broker", "access_token"), "the Upstox access token"))
    if broker_type == "upstox_sandbox":
        needs.append((("broker", "sandbox_token"), "the Upstox sandbox token"))
    return needs


SPEC = register(
    VenueSpec(
        name="upstox",
        summary="Upstox: real orders (upstox), sandbox orders (upstox_sandbox), live data",
        broker_types=("upstox", "upstox_sandbox"),
        data_sources=("upstox",),
        live=True,
        config_section=_config_section,
        open_session=_open_session,
        build_feed=_build_feed,
        build_broker=_build_broker,
        panic=_panic,
        secrets=_secrets,
        token_expiry=_token_expiry,
        cli_modules=("mixbot.venues.upstox.cli",),
        feed_test=_feed_test,
        download=_download,
        check_symbol=_check_symbol,
        check_config=_check_config,
    )
)
