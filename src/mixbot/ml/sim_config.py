"""The configuration and result types of :mod:`mixbot.ml.simulate` (its rules are there).

Units: prices INR, fractions 0-1 unless a name says ``_pct`` (0-100) or ``_bps`` (basis
points); minutes are after local midnight of a bar's END.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mixbot.brokers.charges import PRODUCTS, IndianEquityCharges
from mixbot.market.registry import NSE

FloatArray = npt.NDArray[np.float64]

#: Score of a trial that cannot be scored by its Sharpe ratio (fewer than ``min_trades``
#: trades, or an undefined Sharpe: fewer than 2 daily returns or zero variance). An
#: annualised Sharpe of -10 is far below any strategy worth keeping, so such a trial ranks
#: below every trial with a usable record except one that loses steadily every day (which is
#: worse than not trading). A constant, so the tuner's ranking of those trials is a tie.
TOO_FEW_TRADES_SCORE = -10.0
#: Default minimum number of closed trades for a Sharpe to be used as the score.
MIN_TRADES = 5
#: Numeric fields of a simulated trade (:class:`SimResult`), then ``reason`` and ``bars_held``.
TRADE_KEYS = ("signal_i", "entry_i", "exit_i", "entry_price", "exit_price", "stop", "target",
              "qty", "pnl_gross", "entry_charges", "exit_charges", "charges", "pnl_net")  # fmt: skip
#: Exit reasons a simulated trade can have.
EXIT_REASONS = ("stop_loss", "take_profit", "signal", "horizon", "square_off", "end_of_data")


@dataclass(frozen=True)
class SessionRules:
    """The engine's intraday entry window and square-off (:class:`mixbot.risk.manager.
    RiskManager.check_entry`, :class:`mixbot.strategy.custom.CustomStrategy`); minutes after
    local midnight of a bar's END.

    Attributes:
        open_min, close_min: session; entries only on bars with ``open < minute <= close``.
        no_entry_after_min: no entry on a bar ending after it (None: no such rule).
        square_off_min: at the close of the first bar of a day ending at or after it an open
            position is squared off at the next open, and no entry is taken on or after it.
        max_daily_entries: entries per day (``risk_management.max_daily_trades``), or None.
    """

    open_min: int
    close_min: int
    no_entry_after_min: int | None = None
    square_off_min: int | None = None
    max_daily_entries: int | None = None

    def entry_ok(self, minutes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """(n,) bool: bars on which the engine may take an entry."""
        ok = (minutes > self.open_min) & (minutes <= self.close_min)
        if self.no_entry_after_min is not None:
            ok &= minutes <= self.no_entry_after_min
        if self.square_off_min is not None:
            ok &= minutes < self.square_off_min
        return ok  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SimConfig:
    """Parameters of one simulation.

    Attributes:
        threshold: probability (0-1) a class must reach to act (BUY enters, SELL exits).
        sl_mult, tp_mult: stop and target distances in ATRs of the signal bar (> 0).
        horizon: bars after the signal bar at whose close the position is closed (>= 1).
        capital: initial cash, INR (> 0).
        position_size: fraction (0-1] of equity put in each position.
        charges: the charge schedule (INR per order).
        product: ``"intraday"`` or ``"delivery"``, passed to ``charges.compute``.
        slippage_bps: adverse slippage on market and stop fills, basis points of price (>= 0).
        allow_short: True is not supported yet (the engine is long-only).
        tick_size: price tick, INR (NSE 0.05); 0 disables tick rounding.
        periods_per_year: bars per year, annualises per-bar returns when ``day`` is None.
        barriers: ``"intrabar"`` (protective stop and limit orders, as the labels and the
            plan assume) or ``"close"`` (stop/target compared with each close, unrounded,
            exit at the next open: what :class:`mixbot.strategy.exit.ml_model.
            MLModelExitMixin` does in the engine).
        session: the engine's intraday session rules (:class:`SessionRules`; needs the
            ``minutes`` argument of :func:`simulate`), or None for the plain day-end rule.
        size_at_signal_close: size as the engine's risk manager does, ``floor(min(equity *
            position_size, cash) / close[i])`` (the signal bar's close), instead of by the
            fill price.
    """

    threshold: float = 0.9
    sl_mult: float = 2.0
    tp_mult: float = 3.0
    horizon: int = 20
    capital: float = 100_000.0
    position_size: float = 1.0
    charges: IndianEquityCharges = field(default_factory=IndianEquityCharges)
    product: str = "intraday"
    slippage_bps: float = 0.0
    allow_short: bool = False
    tick_size: float = 0.05
    periods_per_year: float = float(NSE.trading_days_per_year)
    barriers: str = "intrabar"
    session: SessionRules | None = None
    size_at_signal_close: bool = False

    def __post_init__(self) -> None:
        checks = [
            ("threshold", 0.0 <= self.threshold <= 1.0, "a probability in [0, 1]"),
            ("sl_mult", self.sl_mult > 0, "> 0"),
            ("tp_mult", self.tp_mult > 0, "> 0"),
            ("horizon", int(self.horizon) == self.horizon and self.horizon >= 1, "an int >= 1"),
            ("capital", self.capital > 0, "> 0 INR"),
            ("position_size", 0.0 < self.position_size <= 1.0, "a fraction in (0, 1]"),
            ("slippage_bps", 0.0 <= self.slippage_bps < 10_000, "in [0, 10000) bps"),
            ("tick_size", self.tick_size >= 0, ">= 0 INR"),
            ("periods_per_year", self.periods_per_year > 0, "> 0"),
        ]
        for name, ok, what in checks:
            if not ok or not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"SimConfig.{name} must be {what}, got {getattr(self, name)!r}")
        if self.barriers not in ("intrabar", "close"):
            raise ValueError(
                f"SimConfig.barriers must be 'intrabar' or 'close', got {self.barriers!r}"
            )
        if self.product not in PRODUCTS:
            raise ValueError(f"SimConfig.product must be one of {PRODUCTS}, got {self.product!r}")


@dataclass
class SimResult:
    """The outcome of :func:`simulate`.

    Attributes:
        trades: one dict per closed trade, in time order: ``signal_i``, ``entry_i`` (fill
            bar), ``exit_i`` (bar of the exit fill), ``entry_price``, ``exit_price`` (INR per
            share), ``stop``, ``target`` (INR), ``qty`` (shares), ``pnl_gross``,
            ``entry_charges``, ``exit_charges``, ``charges``, ``pnl_net`` (INR), ``reason``
            (one of :data:`EXIT_REASONS`), ``bars_held`` (``exit_i - entry_i``).
        equity: (n,) float64, INR marked at each bar's close.
        in_market: (n,) bool, True where a position is held at the bar's close.
        daily_returns: simple returns (fractions) the Sharpe is computed on.
        sharpe: annualised Sharpe ratio, or None when undefined.
        n_skipped: BUY signals not taken because not even one share was affordable.
    """

    trades: list[dict[str, Any]]
    equity: FloatArray
    in_market: npt.NDArray[np.bool_]
    daily_returns: FloatArray
    sharpe: float | None
    n_skipped: int = 0

    @property
    def n_trades(self) -> int:
        """Closed trades."""
        return len(self.trades)

    @property
    def net_return_pct(self) -> float:
        """Net return after charges over the whole run, percent (0-100 scale)."""
        return float((self.equity[-1] / self.equity[0] - 1.0) * 100.0) if len(self.equity) else 0.0

    @property
    def charges_paid(self) -> float:
        """All charges paid, INR."""
        return float(sum(t["charges"] for t in self.trades))
