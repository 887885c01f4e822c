"""The risk manager: decides whether an entry is allowed and how large it is.

Plain Python (no Backtrader) so that it can be tested alone and its state persisted.
Days are the market's trading days (its time zone: IST for NSE); quantities follow the
market profile's quantity model (NSE: whole shares in multiples of the lot size). Every
refusal comes back with a reason string that the strategy logs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mixbot.config.model import MarketConfig, RiskConfig, TradingConfig
from mixbot.market.profile import MarketProfile
from mixbot.market.registry import NSE


@dataclass
class DayCounters:
    """Counters of one trading day (market time zone)."""

    day: dt.date | None = None
    entries: int = 0
    realized_pnl: float = 0.0
    loss_halted: bool = False


@dataclass
class RiskState:
    """Mutable risk state: today's counters, equity peak (INR) and the halt flag."""

    today: DayCounters = field(default_factory=DayCounters)
    peak_equity: float = 0.0
    halted: bool = False
    halt_reason: str = ""


class RiskManager:
    """Entry permission, position size and the drawdown halt.

    Args:
        trading: sizing (position_size fraction, lot_size, max_positions, max_exposure
            fraction, max_drawdown_pct percent).
        risk: max_daily_trades (count) and max_daily_loss (INR).
        market: session window and no_new_entry_after (minutes after local midnight).
        intraday_bars: bars shorter than a day (the session-window checks apply).
        profile: the market profile whose quantity model sizes orders (default NSE: whole
            shares in multiples of ``lot_size``).
            Fractional profiles (CRYPTO) size in steps of their ``quantity.step``.
    """

    def __init__(
        self,
        trading: TradingConfig,
        risk: RiskConfig,
        market: MarketConfig,
        intraday_bars: bool,
        profile: MarketProfile = NSE,
    ) -> None:
        self.trading = trading
        self.risk = risk
        self.market = market
        self.profile = profile
        self.intraday_bars = intraday_bars
        self.state = RiskState()

    def new_bar(self, day: dt.date) -> None:
        """Roll the daily counters when the market-time-zone date changes."""
        if self.state.today.day != day:
            self.state.today = DayCounters(day=day)

    def check_entry(
        self,
        bar_minute: int,
        open_positions: int,
        equity: float,
        gross_exposure: float,
        stale_reason: str | None = None,
    ) -> str | None:
        """Return None when a new entry is allowed on this bar, else the refusal reason.

        Args:
            bar_minute: the bar's END time, minutes after local midnight.
            open_positions: positions currently open (all symbols).
            equity: current account value, INR.
            gross_exposure: current gross position value, INR.
            stale_reason: the live feed's staleness guard (why its data is stale), or None.
        """
        s, t = self.state, self.trading
        if s.halted:
            return f"bot halted: {s.halt_reason}"
        if stale_reason:
            return f"data stale: {stale_reason}"
        if self.intraday_bars:
            m = self.market
            if not (m.session_open_min < bar_minute <= m.session_close_min):
                return "outside the session"
            if m.no_new_entry_after_min is not None and bar_minute > m.no_new_entry_after_min:
                return f"after no_new_entry_after ({m.no_new_entry_after_min // 60:02d}:{m.no_new_entry_after_min % 60:02d})"
            if (
                m.square_off_at_min is not None
                and self.trading.product == "intraday"
                and bar_minute >= m.square_off_at_min
            ):
                return "at or after the square-off time"
        if open_positions >= t.max_positions:
            return f"max_positions {t.max_positions} reached"
        if self.risk.max_daily_trades is not None and s.today.entries >= self.risk.max_daily_trades:
            return f"max_daily_trades {self.risk.max_daily_trades} reached today"
        if (
            self.risk.max_daily_loss is not None
            and s.today.realized_pnl <= -self.risk.max_daily_loss
        ):
            return f"max_daily_loss {self.risk.max_daily_loss:.2f} INR reached today ({s.today.realized_pnl:.2f})"
        if (
            equity > 0
            and (gross_exposure + equity * t.position_size) > equity * t.max_exposure + 1e-9
        ):
            return f"max_exposure {t.max_exposure:.2f} would be exceeded"
        return None

    def size(self, equity: float, price: float, cash: float) -> float:
        """Units for a new long position: ``min(equity * position_size, cash) / price``
        rounded DOWN by the profile's quantity model (NSE: whole shares, a multiple of
        lot_size; CRYPTO: fractional units in the profile's step, a float); equity, cash and
        price in the account currency (INR for NSE, USDT for CRYPTO)."""
        if price <= 0 or equity <= 0:
            return 0
        budget = min(equity * self.trading.position_size, cash)
        q = self.profile.quantity
        raw = q.round_down(budget / price, self.trading.lot_size)
        return int(raw) if q.whole_units else round(raw, 12)

    def on_entry(self) -> None:
        """Count an entry order sent today."""
        self.state.today.entries += 1

    def on_trade_closed(self, pnl_net: float) -> None:
        """Add a closed trade's net PnL (INR) to today's realised PnL."""
        self.state.today.realized_pnl += pnl_net

    def check_drawdown(self, equity: float) -> float | None:
        """Update the equity peak; return the drawdown percent when it reaches
        ``max_drawdown_pct`` (the caller squares off and halts), else None."""
        s = self.state
        if equity > s.peak_equity:
            s.peak_equity = equity
        if s.peak_equity <= 0 or s.halted:
            return None
        dd = (s.peak_equity - equity) / s.peak_equity * 100.0
        return dd if dd >= self.trading.max_drawdown_pct else None

    def halt(self, reason: str) -> None:
        """Stop all new entries for good (until restarted by an operator)."""
        self.state.halted = True
        self.state.halt_reason = reason
