"""Performance metrics of a backtest: returns, risk ratios, drawdown and trade statistics.

Conventions:

* Money is INR. Fields ending in ``_pct`` are percentages on a 0-100 scale (``12.5`` means
  12.5 %); ``risk_free_rate`` is an annual *fraction* (``0.065`` = 6.5 %).
* Times are tz-naive UTC ``datetime``/``Timestamp`` values, as in the equity index. Calendar
  days for the intraday Sharpe/Sortino are days in the market profile's time zone
  (``market``, default :data:`mixbot.market.NSE`: IST, Asia/Kolkata).

Formulas (``r`` = period simple returns, ``N`` = periods per year, ``rf_p`` = the per-period
risk-free rate ``(1 + risk_free_rate) ** (1 / N) - 1``, ``x = r - rf_p``):

* Return periods: when the equity has at most one point per market calendar day (daily or
  slower bars) ``r`` are the per-bar returns and ``N = periods_per_year``. When some market
  day has several points (intraday bars) the equity is resampled to its last value per
  market calendar day, ``r`` are the daily returns (the first day measured from the first
  equity point) and ``N = market.trading_days_per_year`` (NSE: 252).
* Sharpe ratio (Sharpe 1994, "The Sharpe Ratio", J. Portfolio Management 21(1)), annualised:
  ``mean(x) / std(x, ddof=1) * sqrt(N)``. None when there are fewer than 2 returns or ``x`` has
  zero variance (e.g. flat equity): the ratio is undefined there, not 0.
* Sortino ratio (Sortino & Price 1994, "Performance Measurement in a Downside Risk
  Framework", J. Investing 3(3)): ``mean(x) / DD * sqrt(N)`` with the downside deviation
  ``DD = sqrt(mean(min(x, 0) ** 2))`` taken over ALL periods (target = the risk-free rate,
  i.e. 0 when ``risk_free_rate`` is 0). None when there are fewer than 2 returns or no period
  is below the target (DD = 0). Same definition as empyrical's ``sortino_ratio``.
* Total return: ``(final / initial - 1) * 100``.
* CAGR: ``((final / initial) ** (1 / years) - 1) * 100`` with ``years`` = calendar time from the
  first to the last equity point / 365.25 days. None when that span is under one day.
  -100 when the final value is <= 0.
* Max drawdown: ``max over t of (1 - equity_t / max_{s<=t} equity_s) * 100``, a positive
  percentage; its start is the last time at the peak before the trough, its end the first
  time after the trough when equity is back at or above that peak (None if never).
* Trades use ``pnl_net``: win rate = share of trades with ``pnl_net > 0``; profit factor =
  sum of positive ``pnl_net`` / |sum of negative ``pnl_net``|.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from mixbot.market.profile import MarketProfile
from mixbot.market.registry import NSE

#: The default market's time zone and trading days per year (NSE: IST, 252); kept for callers
#: of the old constants: pass a ``market`` profile instead.
IST = NSE.timezone
TRADING_DAYS_PER_YEAR = NSE.trading_days_per_year


@dataclass(frozen=True)
class TradeRecord:
    """One closed trade.

    Attributes:
        entry_time, exit_time: fill times, tz-naive UTC.
        side: ``"long"`` or ``"short"``.
        size: shares (positive).
        entry_price, exit_price: average fill prices, INR per share.
        pnl_gross: profit before charges, INR.
        charges: all charges paid on entry and exit, INR.
        pnl_net: ``pnl_gross - charges``, INR.
        exit_reason: why it closed (e.g. ``"signal"``, ``"stop_loss"``, ``"end_of_data"``).
        bars_held: bars between entry and exit.
        exit_parts: the orders that closed it, each ``{"tag", "role", "qty", "price" (INR,
            size-weighted average of its fills), "charges" (INR), "time" (ISO, naive UTC: its
            last fill)}`` (see :mod:`mixbot.orders.exits`); empty when not known.
    """

    entry_time: datetime
    exit_time: datetime
    side: Literal["long", "short"]
    size: float
    entry_price: float
    exit_price: float
    pnl_gross: float
    charges: float
    pnl_net: float
    exit_reason: str
    bars_held: int
    exit_parts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Metrics:
    """Summary of a backtest; units as in the module docstring (INR, pct on a 0-100 scale).

    Ratios and trade statistics that are undefined (see the module docstring) are None.
    ``profit_factor`` is ``math.inf`` when there are winning trades and no losing ones.
    """

    start: datetime
    end: datetime
    initial_value: float
    final_value: float
    total_return_pct: float
    cagr_pct: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown_pct: float
    max_drawdown_start: datetime | None
    max_drawdown_trough: datetime | None
    max_drawdown_end: datetime | None
    win_rate_pct: float | None
    profit_factor: float | None
    n_trades: int
    exposure_pct: float | None
    charges_paid: float
    avg_trade_pnl: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict: times as ISO-8601 strings (UTC, no offset), infinities as
        the strings ``"inf"``/``"-inf"``, NaN as None, numbers as plain floats/ints."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
            elif isinstance(value, float):
                if math.isnan(value):
                    out[key] = None
                elif math.isinf(value):
                    out[key] = "inf" if value > 0 else "-inf"
                else:
                    out[key] = float(value)
            else:
                out[key] = value
        return out

    def rows(self, tz: str = "UTC") -> list[tuple[str, str]]:
        """(label, formatted value) pairs for a printed table; labels carry the units.

        Times are shown in ``tz`` (e.g. ``Asia/Kolkata`` for IST) with the zone's abbreviation.
        """
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(tz)

        def num(v: float | None, fmt: str = "{:,.2f}") -> str:
            if v is None:
                return "n/a"
            if math.isinf(v):
                return "inf" if v > 0 else "-inf"
            return fmt.format(v)

        def ts(v: datetime | None) -> str:
            if v is None:
                return "n/a"
            local = v.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
            return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

        return [
            ("Start", ts(self.start)),
            ("End", ts(self.end)),
            ("Initial value (INR)", num(self.initial_value)),
            ("Final value (INR)", num(self.final_value)),
            ("Total return (%)", num(self.total_return_pct)),
            ("CAGR (%)", num(self.cagr_pct)),
            ("Sharpe ratio (annualised)", num(self.sharpe, "{:.3f}")),
            ("Sortino ratio (annualised)", num(self.sortino, "{:.3f}")),
            ("Max drawdown (%)", num(self.max_drawdown_pct)),
            ("Max drawdown peak", ts(self.max_drawdown_start)),
            ("Max drawdown trough", ts(self.max_drawdown_trough)),
            ("Max drawdown recovery", ts(self.max_drawdown_end)),
            ("Trades", str(self.n_trades)),
            ("Win rate (%)", num(self.win_rate_pct)),
            ("Profit factor", num(self.profit_factor, "{:.3f}")),
            ("Average trade P&L, net (INR)", num(self.avg_trade_pnl)),
            ("Charges paid (INR)", num(self.charges_paid)),
            ("Exposure (% of bars)", num(self.exposure_pct)),
        ]


def _validate_equity(equity: pd.Series) -> pd.Series:
    if not isinstance(equity, pd.Series):
        raise ValueError(f"equity must be a pandas Series, got {type(equity).__name__}")
    if equity.empty:
        raise ValueError("equity is empty: need at least one point")
    if not isinstance(equity.index, pd.DatetimeIndex):
        raise ValueError("equity must be indexed by a DatetimeIndex (tz-naive UTC)")
    values = pd.to_numeric(equity, errors="coerce").astype(float)
    if not np.isfinite(values.to_numpy()).all():
        raise ValueError("equity contains NaN, infinite or non-numeric values")
    idx = equity.index
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    if not idx.is_monotonic_increasing or idx.has_duplicates:
        raise ValueError("equity index must be strictly increasing (sorted, no duplicate times)")
    if values.iloc[0] <= 0:
        raise ValueError(f"initial equity must be > 0 INR, got {values.iloc[0]!r}")
    return pd.Series(values.to_numpy(), index=idx)


def period_returns(
    equity: pd.Series, periods_per_year: float, market: MarketProfile = NSE
) -> tuple[pd.Series, float]:
    """Returns used for Sharpe/Sortino and their annualisation factor ``N``.

    ``equity``: values (account currency) on a sorted tz-naive UTC DatetimeIndex. Per-bar
    simple returns with ``N = periods_per_year`` when no calendar day (in ``market``'s time
    zone) holds more than one point; otherwise daily returns of the last value per market day
    (the first day measured from the first point) with ``N = market.trading_days_per_year``
    (NSE: 252). See the module docstring.
    """
    days = equity.index.tz_localize("UTC").tz_convert(market.timezone).normalize().tz_localize(None)
    if not days.has_duplicates:
        return equity.pct_change().iloc[1:], float(periods_per_year)
    daily = equity.groupby(days).last()
    prev = daily.shift(1)
    prev.iloc[0] = equity.iloc[0]
    return daily / prev - 1.0, float(market.trading_days_per_year)


def _sharpe_sortino(
    returns: pd.Series, n: float, risk_free_rate: float
) -> tuple[float | None, float | None]:
    r = returns.to_numpy(dtype=float)
    if r.size < 2:
        return None, None
    rf_p = (1.0 + risk_free_rate) ** (1.0 / n) - 1.0
    x = r - rf_p
    mean = float(np.mean(x))
    std = float(np.std(x, ddof=1))
    scale = math.sqrt(n)
    # Relative tolerance: float noise in a flat curve's returns must not read as variance.
    sharpe = None if std <= 1e-12 * max(1.0, abs(mean)) else mean / std * scale
    dd = float(np.sqrt(np.mean(np.minimum(x, 0.0) ** 2)))
    sortino = None if dd <= 1e-15 else mean / dd * scale
    return sharpe, sortino


def _drawdown(
    equity: pd.Series,
) -> tuple[float, datetime | None, datetime | None, datetime | None]:
    peak = equity.cummax()
    under = equity / peak - 1.0
    depth = float(-under.min())
    if depth <= 0.0:
        return 0.0, None, None, None
    trough = under.idxmin()
    peak_value = peak.loc[trough]
    before = equity.loc[:trough]
    start = before[before >= peak_value].index[-1]
    after = equity.loc[trough:]
    recovered = after[after >= peak_value]
    end = recovered.index[0].to_pydatetime() if len(recovered) else None
    return depth * 100.0, start.to_pydatetime(), trough.to_pydatetime(), end


def compute_metrics(
    equity: pd.Series,
    trades: list[TradeRecord],
    *,
    periods_per_year: float | None = None,
    in_market: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    market: MarketProfile = NSE,
) -> Metrics:
    """Compute :class:`Metrics` for one backtest (formulas and sources: module docstring).

    Args:
        equity: portfolio value in INR, one point per bar, on a sorted DatetimeIndex of
            tz-naive UTC times (a tz-aware index is converted to UTC first).
        trades: closed trades (INR), in any order.
        periods_per_year: bars per year, used to annualise per-bar returns of daily or
            slower bars; None = ``market.trading_days_per_year`` (252 for NSE daily bars).
            Ignored for intraday bars (daily returns, annualised with
            ``market.trading_days_per_year``).
        in_market: optional bool per bar (same length as ``equity``), True while a position
            is open; gives ``exposure_pct``.
        risk_free_rate: annual fraction (0.065 = 6.5 %), de-annualised geometrically.
        market: the market profile whose time zone gives the calendar days and whose
            trading days per year annualise daily returns (default NSE: IST, 252).

    Raises:
        ValueError: equity not a non-empty Series of finite numbers on a strictly increasing
            DatetimeIndex, initial equity <= 0, ``periods_per_year`` <= 0, or ``in_market``
            of another length than ``equity``.
    """
    eq = _validate_equity(equity)
    if periods_per_year is None:
        periods_per_year = market.trading_days_per_year
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year!r}")
    if not (math.isfinite(risk_free_rate) and risk_free_rate > -1):
        raise ValueError(f"risk_free_rate must be a finite fraction > -1, got {risk_free_rate!r}")

    initial, final = float(eq.iloc[0]), float(eq.iloc[-1])
    start, end = eq.index[0].to_pydatetime(), eq.index[-1].to_pydatetime()
    total_return_pct = (final / initial - 1.0) * 100.0

    years = (end - start).total_seconds() / (365.25 * 86400.0)
    cagr_pct: float | None
    if (end - start).total_seconds() < 86400.0:
        cagr_pct = None
    elif final <= 0:
        cagr_pct = -100.0
    else:
        try:
            cagr_pct = ((final / initial) ** (1.0 / years) - 1.0) * 100.0
        except OverflowError:
            cagr_pct = math.inf

    returns, n = period_returns(eq, periods_per_year, market)
    sharpe, sortino = _sharpe_sortino(returns, n, risk_free_rate)
    dd_pct, dd_start, dd_trough, dd_end = _drawdown(eq)

    exposure_pct: float | None = None
    if in_market is not None:
        if len(in_market) != len(eq):
            raise ValueError(
                f"in_market has {len(in_market)} points but equity has {len(eq)}: "
                "need one bool per bar"
            )
        exposure_pct = float(np.asarray(in_market, dtype=bool).mean() * 100.0)

    pnl = np.array([t.pnl_net for t in trades], dtype=float)
    n_trades = int(pnl.size)
    win_rate_pct: float | None = None
    profit_factor: float | None = None
    avg_trade_pnl: float | None = None
    if n_trades:
        win_rate_pct = float((pnl > 0).mean() * 100.0)
        avg_trade_pnl = float(pnl.mean())
        gross_win = float(pnl[pnl > 0].sum())
        gross_loss = float(-pnl[pnl < 0].sum())
        if gross_loss > 0:
            profit_factor = gross_win / gross_loss
        elif gross_win > 0:
            profit_factor = math.inf

    return Metrics(
        start=start,
        end=end,
        initial_value=initial,
        final_value=final,
        total_return_pct=total_return_pct,
        cagr_pct=cagr_pct,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown_pct=dd_pct,
        max_drawdown_start=dd_start,
        max_drawdown_trough=dd_trough,
        max_drawdown_end=dd_end,
        win_rate_pct=win_rate_pct,
        profit_factor=profit_factor,
        n_trades=n_trades,
        exposure_pct=exposure_pct,
        charges_paid=float(sum(t.charges for t in trades)),
        avg_trade_pnl=avg_trade_pnl,
    )
