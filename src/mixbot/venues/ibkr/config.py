"""The ``ibkr`` section of a bot config (root key ``ibkr``) and its JSON schema.

Where TWS / IB Gateway listens and which contract the bot trades. ``host`` and ``port`` are
overridden by ``MIXBOT_IBKR_HOST`` / ``MIXBOT_IBKR_PORT`` when set (the simulator prints
them). IB's default API ports: 7497 (TWS paper), 7496 (TWS live), 4002 / 4001 (IB Gateway
paper / live).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "Interactive Brokers (broker/data source ibkr): where TWS / IB Gateway "
    "listens and the contract traded. MIXBOT_IBKR_HOST / MIXBOT_IBKR_PORT override host/port.",
    "properties": {
        "host": {"type": "string", "default": "127.0.0.1", "description": "TWS / Gateway host"},
        "port": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "default": 7497,
            "description": "API port (7497 TWS paper, 7496 TWS live, 4002/4001 Gateway)",
        },
        "client_id": {
            "type": "integer",
            "minimum": 0,
            "default": 1,
            "description": "API client id; one per connected bot (orders are found again "
            "after a restart under the same client id)",
        },
        "account": {
            "type": "string",
            "default": "",
            "description": "account id ('' = the only one)",
        },
        "sec_type": {
            "enum": ["STK", "FUT", "CASH", "IND", "CFD"],
            "default": "STK",
            "description": "IB security type of data.symbol",
        },
        "exchange": {
            "type": "string",
            "default": "SMART",
            "description": "IB exchange (SMART, NSE ...)",
        },
        "primary_exchange": {"type": "string", "default": "", "description": "e.g. NASDAQ"},
        "currency": {"type": "string", "default": "USD", "description": "contract currency"},
        "last_trade_date": {
            "type": "string",
            "default": "",
            "description": "futures: expiry YYYYMM or YYYYMMDD (needed when several match)",
        },
        "connect_timeout_seconds": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 15.0,
            "description": "connect / request timeout, s",
        },
        "max_messages_per_second": {
            "type": "integer",
            "minimum": 1,
            "default": 45,
            "description": "API messages sent per second at most (IB allows 50; ib_async's "
            "default 45). Only the local simulator can take more",
        },
        "use_rth": {
            "type": "boolean",
            "default": True,
            "description": "history: regular trading hours only",
        },
    },
}


@dataclass(frozen=True)
class IbkrConfig:
    """Typed, frozen ``ibkr`` section (defaults as in :data:`SCHEMA`; env overrides applied).

    Attributes:
        host, port: where TWS / IB Gateway listens.
        client_id: the API client id.
        account: the account id, "" = the only managed account.
        sec_type, exchange, primary_exchange, currency, last_trade_date: the contract of
            ``data.symbol``.
        timeout_s: connect and request timeout, seconds.
        max_messages_per_s: ib_async's send throttle (IB's limit: 50 messages/s).
        use_rth: history restricted to regular trading hours.
    """

    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 1
    account: str = ""
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    last_trade_date: str = ""
    timeout_s: float = 15.0
    use_rth: bool = True
    max_messages_per_s: int = 45

    @classmethod
    def of(cls, cfg: Any, env: Any = None) -> IbkrConfig:
        """The section of a :class:`~mixbot.config.model.BotConfig` (``cfg.raw["ibkr"]``),
        with ``MIXBOT_IBKR_HOST`` / ``MIXBOT_IBKR_PORT`` from ``env`` (default os.environ).

        Raises:
            ValueError: ``MIXBOT_IBKR_PORT`` is not an integer.
        """
        env = os.environ if env is None else env
        s: dict[str, Any] = (getattr(cfg, "raw", None) or {}).get("ibkr") or {}
        port = env.get("MIXBOT_IBKR_PORT") or s.get("port", 7497)
        return cls(
            host=env.get("MIXBOT_IBKR_HOST") or str(s.get("host", "127.0.0.1")),
            port=int(port),
            client_id=int(s.get("client_id", 1)),
            account=str(s.get("account", "")),
            sec_type=str(s.get("sec_type", "STK")),
            exchange=str(s.get("exchange", "SMART")),
            primary_exchange=str(s.get("primary_exchange", "")),
            currency=str(s.get("currency", "USD")),
            last_trade_date=str(s.get("last_trade_date", "")),
            timeout_s=float(s.get("connect_timeout_seconds", 15.0)),
            use_rth=bool(s.get("use_rth", True)),
            max_messages_per_s=int(s.get("max_messages_per_second", 45)),
        )
