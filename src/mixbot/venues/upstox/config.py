"""The Upstox section of a bot config: the ``broker`` fields only Upstox brokers read.

They stay in the config file's ``broker`` object (today's configs keep validating; the
schema describes each as "Upstox brokers: ..."), but the generic
:class:`~mixbot.config.model.BrokerConfig` no longer carries them: Upstox code reads
:meth:`UpstoxBrokerConfig.of`. Secrets (``access_token``, ``sandbox_token``) are not held
here: :func:`mixbot.config.secrets.broker_secret` resolves them when the venue connects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UpstoxBrokerConfig:
    """Typed, frozen Upstox broker settings (defaults as in the schema).

    Attributes:
        algo_name: the ``X-Algo-Name`` header sent with orders, or None.
        registered_algo: the strategy is exchange-registered (50 orders/s instead of 10).
        entry_buffer_pct: entries are LIMIT orders this PERCENT through the last traded price
            (0.05 = 0.05 %), rounded to the tick.
        exit_timeout_seconds: an exit still pending after this long (exchange clock, s) is
            cancelled and the rest re-sent at MARKET.
        entry_timeout_seconds: an entry still pending after this long (s) is cancelled.
        sandbox: ``broker.type`` is ``upstox_sandbox`` (orders go to the sandbox endpoints).
        outside_positions: ``"refuse"`` (no new entries while the account holds a position or
            open order on the instrument that the bot did not make) or ``"ignore"`` (trade
            beside it); unset in the config means refuse.
    """

    algo_name: str | None = None
    registered_algo: bool = False
    entry_buffer_pct: float = 0.05
    exit_timeout_seconds: float = 30.0
    entry_timeout_seconds: float = 120.0
    sandbox: bool = False
    outside_positions: str = "refuse"

    @classmethod
    def of(cls, cfg: Any) -> UpstoxBrokerConfig:
        """The section of a :class:`~mixbot.config.model.BotConfig` (read from its effective
        ``broker`` object, defaults filled by the schema)."""
        b: dict[str, Any] = (cfg.raw or {}).get("broker") or {}
        return cls(
            algo_name=b.get("algo_name"),
            registered_algo=bool(b.get("registered_algo", False)),
            entry_buffer_pct=float(b.get("entry_buffer_pct", 0.05)),
            exit_timeout_seconds=float(b.get("exit_timeout_seconds", 30.0)),
            entry_timeout_seconds=float(b.get("entry_timeout_seconds", 120.0)),
            sandbox=cfg.broker.type == "upstox_sandbox",
            outside_positions=str(b.get("outside_positions") or "refuse"),
        )
