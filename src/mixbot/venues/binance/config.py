"""The ``binance`` section of a bot config (at the config's root, next to ``broker``).

Example::

    "binance": {"api_key": "${BINANCE_API_KEY}", "api_secret": "${BINANCE_API_SECRET}"}

Hosts: ``api_url`` (REST base, without ``/api/v3``) and ``ws_url`` (websocket base, without
``/ws``); the environment variables ``MIXBOT_BINANCE_API`` / ``MIXBOT_BINANCE_WS`` override
them (the simulator prints them). Secrets only as ``${VAR}`` (checked by the validator).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "Binance spot: hosts, credentials (${VAR} only), feed and order options.",
    "properties": {
        "api_key": {"type": "string", "description": "API key, as ${VAR} (e.g. ${BINANCE_API_KEY})."},
        "api_secret": {"type": "string", "description": "API secret (HMAC-SHA256), as ${VAR}."},
        "api_url": {"type": "string", "default": "https://api.binance.com",
                    "description": "REST base (MIXBOT_BINANCE_API overrides)."},
        "ws_url": {"type": "string", "default": "wss://stream.binance.com:9443",
                   "description": "Market-stream base (MIXBOT_BINANCE_WS overrides; the "
                   "WebSocket API is <ws_url>/ws-api/v3 when overridden, else Binance's)."},
        "close_grace_s": {"type": ["number", "null"], "minimum": 0, "default": 5.0,
                          "description": "Seconds after a candle's end at which it counts as "
                          "closed when no newer candle came (null: only a newer candle closes it)."},
        "weight_budget": {"type": "integer", "minimum": 10, "maximum": 6000, "default": 4800,
                          "description": "REST request weight per minute the bot allows itself "
                          "(Binance's limit is 6,000 per IP)."},
        "recv_window_ms": {"type": "integer", "minimum": 1000, "maximum": 60000, "default": 5000,
                           "description": "recvWindow of SIGNED requests, ms (Binance: default "
                           "5,000, at most 60,000)."},
    },
}  # fmt: skip

SECRET_FIELDS = ("api_key", "api_secret")


@dataclass(frozen=True)
class BinanceConfig:
    """The typed ``binance`` section (hosts after the env overrides; no secret values)."""

    api_url: str
    ws_url: str
    ws_api_url: str
    close_grace_s: float | None
    weight_budget: int
    recv_window_ms: int

    @classmethod
    def of(cls, cfg: Any) -> BinanceConfig:
        """The section of a :class:`~mixbot.config.model.BotConfig` (defaults filled)."""
        raw = dict((getattr(cfg, "raw", None) or {}).get("binance") or {})
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BinanceConfig:
        api = (
            os.environ.get("MIXBOT_BINANCE_API") or raw.get("api_url") or "https://api.binance.com"
        )
        env_ws = os.environ.get("MIXBOT_BINANCE_WS")
        ws = env_ws or raw.get("ws_url") or "wss://stream.binance.com:9443"
        ws_api = (
            f"{ws.rstrip('/')}/ws-api/v3"
            if (env_ws or raw.get("ws_url"))
            else ("wss://ws-api.binance.com:443/ws-api/v3")
        )
        grace = raw.get("close_grace_s", 5.0)
        return cls(
            api_url=api.rstrip("/"),
            ws_url=ws.rstrip("/"),
            ws_api_url=ws_api,
            close_grace_s=None if grace is None else float(grace),
            weight_budget=int(raw.get("weight_budget", 4800)),
            recv_window_ms=int(raw.get("recv_window_ms", 5000)),
        )
