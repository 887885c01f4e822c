"""Typed, frozen config objects built from a validated config (defaults filled).

Units follow the schema: *_pct fields are percent numbers (5.0 = 5 %); position_size and
max_exposure are fractions (0.1 = 10 %); money in INR; times HH:MM in market.timezone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _hhmm(v: str | None) -> int | None:
    return None if v is None else int(v[:2]) * 60 + int(v[3:])


@dataclass(frozen=True)
class BrokerConfig:
    """Broker section, the fields every broker reads: type, starting cash (INR), flat
    commission fraction or None, slippage (bps), tick (INR).

    A venue's own fields (e.g. Upstox's ``algo_name`` and order timeouts) are read by the
    venue's typed section (``VenueSpec.config_section``, e.g.
    :meth:`mixbot.venues.upstox.config.UpstoxBrokerConfig.of`), not held here.
    """

    type: str
    initial_balance: float
    commission: float | None
    slippage_bps: float
    tick_size: float


@dataclass(frozen=True)
class TradingConfig:
    """Trading section: symbols, product, sizing fractions, limits."""

    symbols: tuple[str, ...]
    product: str
    position_size: float
    lot_size: int
    max_positions: int
    max_drawdown_pct: float
    max_exposure: float


@dataclass(frozen=True)
class DataConfig:
    """Data section: source, symbol, bar size, warm-up bars, file path and replay speed."""

    data_source: str
    symbol: str
    interval: str
    lookback_bars: int
    retry_interval: float
    path: Path | None
    speed: float
    replay_as: str
    date_from: str | None
    date_to: str | None
    stale_after_seconds: float = 120.0

    @property
    def interval_minutes(self) -> int:
        """Bar size in minutes (1d = 1440)."""
        unit = self.interval[-1]
        n = int(self.interval[:-1])
        return n * {"m": 1, "h": 60, "d": 1440}[unit]


@dataclass(frozen=True)
class MixinConfig:
    """One mixin choice: registered class name and its params (defaults filled)."""

    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class TrailingStopConfig:
    """Trailing stop: armed after activation_pct gain (percent), trails trailing_pct (percent) under the high."""

    enabled: bool
    activation_pct: float
    trailing_pct: float


@dataclass(frozen=True)
class RiskConfig:
    """Risk section: percent stop/target, trailing stop, daily limits (count, INR)."""

    stop_loss_pct: float | None
    take_profit_pct: float | None
    trailing_stop: TrailingStopConfig
    max_daily_trades: int | None
    max_daily_loss: float | None


@dataclass(frozen=True)
class MarketConfig:
    """Session rules; the *_min fields are minutes since local midnight in ``timezone``."""

    exchange: str
    timezone: str
    session_open_min: int
    session_close_min: int
    no_new_entry_after_min: int | None
    square_off_at_min: int | None
    holidays: tuple[dt.date, ...] = ()  # market.holidays: extra exchange holidays, sorted


@dataclass(frozen=True)
class LoggingConfig:
    """Logging section."""

    level: str
    save_trades: bool
    save_equity_curve: bool
    log_file: Path


@dataclass(frozen=True)
class BotConfig:
    """A whole validated bot config.

    ``raw`` keeps the effective dict (defaults filled, ``${VAR}`` references NOT resolved),
    so nothing secret is held here; venues resolve their secrets when they connect.
    """

    bot_id: str
    source_file: Path
    description: str
    broker: BrokerConfig
    trading: TradingConfig
    data: DataConfig
    entry: MixinConfig
    exit: MixinConfig
    risk: RiskConfig
    market: MarketConfig
    logging: LoggingConfig
    database_url: str | None
    notifications: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def build(effective: dict[str, Any], source_file: Path) -> BotConfig:
    """Build a :class:`BotConfig` from a VALID effective config (as returned by validation)."""
    from mixbot.paths import expand_data_path
    from mixbot.strategy import registry

    b, t, d, s = effective["broker"], effective["trading"], effective["data"], effective["strategy"]
    r, m, lg = effective["risk_management"], effective["market"], effective["logging"]
    bot_id = effective.get("bot_id") or source_file.stem
    symbols = tuple(t.get("symbols") or ([t["symbol"]] if "symbol" in t else [d["symbol"]]))

    def mixin(kind: str, logic: dict[str, Any]) -> MixinConfig:
        spec = registry.get(kind, logic["name"])  # type: ignore[arg-type]
        return MixinConfig(logic["name"], {**registry.defaults(spec), **logic.get("params", {})})

    ts = r["trailing_stop"]
    return BotConfig(
        bot_id=bot_id,
        source_file=source_file,
        description=effective.get("description", ""),
        broker=BrokerConfig(
            b["type"],
            float(b["initial_balance"]),
            b.get("commission"),
            float(b["slippage_bps"]),
            float(b["tick_size"]),
        ),
        trading=TradingConfig(
            symbols,
            t["product"],
            float(s.get("position_size") or t["position_size"]),
            int(t["lot_size"]),
            int(t["max_positions"]),
            float(t["max_drawdown_pct"]),
            float(t["max_exposure"]),
        ),
        data=DataConfig(
            d["data_source"],
            d.get("symbol") or symbols[0],
            d["interval"],
            int(d["lookback_bars"]),
            float(d["retry_interval"]),
            expand_data_path(d["path"], Path.cwd()) if d.get("path") else None,
            float(d["speed"]),
            d["replay_as"],
            d.get("from"),
            d.get("to"),
            float(d.get("stale_after_seconds", 120.0)),
        ),
        entry=mixin("entry", s["entry_logic"]),
        exit=mixin("exit", s["exit_logic"]),
        risk=RiskConfig(
            r.get("stop_loss_pct"),
            r.get("take_profit_pct"),
            TrailingStopConfig(
                bool(ts["enabled"]), float(ts["activation_pct"]), float(ts["trailing_pct"])
            ),
            r.get("max_daily_trades"),
            r.get("max_daily_loss"),
        ),
        market=MarketConfig(
            m["exchange"],
            m["timezone"],
            _hhmm(m["session_open"]) or 0,
            _hhmm(m["session_close"]) or 0,
            _hhmm(m.get("no_new_entry_after")),
            _hhmm(m.get("square_off_at")),
            tuple(sorted(dt.date.fromisoformat(d) for d in m.get("holidays") or ())),
        ),
        logging=LoggingConfig(
            lg["level"],
            bool(lg["save_trades"]),
            bool(lg["save_equity_curve"]),
            Path(lg.get("log_file") or f"logs/{bot_id}/bot.log"),
        ),
        database_url=effective["database"].get("url"),
        notifications=effective.get("notifications", {}),
        raw=effective,
    )
