"""Trade simulation of a classifier's probabilities with the paper broker's assumptions.

The tuner scores every trial with :func:`objective_score` of :func:`simulate` on the
validation fold; the out-of-sample report (:mod:`mixbot.ml.report`) simulates the test
folds and the no-skill baseline the same way. Long only (shorts: not supported by the
engine yet).

Rules (bar ``i`` = the signal bar, ``a = atr[i]``; prices INR):

* Entry: at the CLOSE of bar ``i``, when flat, ``proba[i, BUY] >= threshold``, ``atr[i]`` is
  finite and > 0, ``i`` is not the last bar of the data and (intraday) not the last bar of
  its day -> a market BUY filled at ``open[i+1]`` (the fill bar ``j = i + 1``).
* Size: ``floor(equity * position_size / fill_price)`` whole shares (``equity`` = cash: the
  position is flat), less one share at a time while ``qty * fill + buy charges`` exceeds the
  cash (the broker's cash check); no trade when that leaves 0 shares.
* Protective orders: stop ``fill - sl_mult * a`` (rounded DOWN to the tick) and target
  ``fill + tp_mult * a`` (rounded UP), as :meth:`mixbot.orders.manager.OrderManager.
  protect_entry` rounds, checked intrabar on every bar from the fill bar ``j`` on; when both
  are touched in one bar the STOP fills (the stop-loss is placed first and Backtrader
  processes pending orders in order). Like the labels (:func:`mixbot.ml.labels.
  triple_barrier`, bars ``i+1 .. i+horizon``) they are live from the fill bar.
  ``SimConfig.barriers="close"`` instead compares each close from the fill bar on with the
  unrounded levels (stop first) and exits at the next open, as the engine's
  :class:`mixbot.strategy.exit.ml_model.MLModelExitMixin` does.
* Exits at the next open: the SELL class ``>= threshold`` at a close (reason ``signal``);
  ``horizon`` bars after the signal bar, i.e. at the close of bar ``i + horizon``
  (``horizon``). Intraday: at the close of the last bar of each day the position is squared
  off at that close (``square_off``). At the last bar of the data an open position is
  closed at its close (``end_of_data``) so every trade is counted.
* Fill prices (Backtrader ``BackBroker`` + :class:`mixbot.brokers.paper.PaperBroker`, slip
  ``s = slippage_bps / 10,000``): market buy ``min(open * (1 + s), high)`` rounded UP to the
  tick (DOWN when that passes the high); market sell (and the square-off at the close)
  ``max(price * (1 - s), low)`` rounded DOWN (UP when below the low); sell stop: the slipped
  open when the bar opens at or below the stop, else ``max(stop * (1 - s), low)``; sell
  limit (target): ``max(open * (1 - s), target)`` when the bar opens at or above it, else the
  target itself (no slippage). With no slippage prices are used as they are (no rounding).
* Charges: :class:`mixbot.brokers.charges.IndianEquityCharges` per order (buy and sell).
* Equity (INR) is marked at every bar's close: cash + shares * close.
* Speed: work is done only on signal and trade bars; a trade's fill, stop, target and exit
  depend on its signal bar alone and are memoised in a :class:`Simulator`, so the no-skill
  baseline (many random entry sets on the same bars) reuses them. About 10 ms for 20k bars
  and ~200 trades on this 2-core machine (most of it the charges of each fill).
* Sharpe (:func:`sharpe_of_equity`): annualised, the formula and tolerance of
  :mod:`mixbot.backtest.metrics` (the same function): daily returns of the last equity of
  each day (the first day from the initial capital) * sqrt(252) when ``day`` is given, else
  per-bar returns * sqrt(``periods_per_year``) (daily bars). Agrees with
  :func:`mixbot.backtest.metrics.compute_metrics` on the same equity when ``day`` holds the
  market's (IST) calendar days (:func:`day_index`).
"""

from __future__ import annotations

import bisect
import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixbot.backtest.metrics import TradeRecord, _sharpe_sortino
from mixbot.market.registry import NSE
from mixbot.ml.labels import BUY, SELL
from mixbot.ml.sim_config import (  # re-exported: the simulator's public types
    EXIT_REASONS,
    MIN_TRADES,
    TOO_FEW_TRADES_SCORE,
    TRADE_KEYS,
    FloatArray,
    SessionRules,
    SimConfig,
    SimResult,
)
from mixbot.orders.ticks import round_to_tick

__all__ = [
    "EXIT_REASONS",
    "MIN_TRADES",
    "TOO_FEW_TRADES_SCORE",
    "TRADE_KEYS",
    "SessionRules",
    "SimConfig",
    "SimResult",
    "Simulator",
    "day_index",
    "objective_score",
    "period_returns",
    "sharpe_of_equity",
    "simulate",
    "to_trade_records",
]


@lru_cache(maxsize=262144)
def _round(price: float, tick: float, way: str) -> float:
    """:func:`mixbot.orders.ticks.round_to_tick` (cached: the same bars' fills repeat)."""
    return round_to_tick(price, tick, "up" if way == "up" else "down")


class _Fills:
    """Fill prices of the paper broker on the simulated bars (see the module docstring)."""

    def __init__(self, o: FloatArray, h: FloatArray, lo: FloatArray, cfg: SimConfig) -> None:
        self.o, self.h, self.lo = o, h, lo
        self.s = cfg.slippage_bps / 10_000.0
        self.tick = cfg.tick_size

    def _tick(self, p: float, way: str, bound: float, below: bool) -> float:
        if not self.s or not self.tick:
            return p
        r = _round(p, self.tick, way)
        if (r > bound) if below else (r < bound):
            r = _round(bound, self.tick, "down" if below else "up")
        return r

    def buy(self, k: int) -> float:
        """Market buy at the open of bar ``k``."""
        p = min(self.o[k] * (1.0 + self.s), self.h[k]) if self.s else self.o[k]
        return self._tick(float(p), "up", float(self.h[k]), below=True)

    def sell(self, k: int, price: float) -> float:
        """Market sell at ``price`` (the open or the close) of bar ``k``."""
        p = max(price * (1.0 - self.s), self.lo[k]) if self.s else price
        return self._tick(float(p), "down", float(self.lo[k]), below=False)

    def stop(self, k: int, stop: float) -> float:
        """Sell stop at ``stop`` touched in bar ``k``."""
        if self.o[k] <= stop:
            return self.sell(k, float(self.o[k]))
        return self.sell(k, stop)

    def target(self, k: int, target: float) -> float:
        """Sell limit at ``target`` touched in bar ``k``."""
        if self.o[k] >= target:
            p = max(self.o[k] * (1.0 - self.s), target)
            return self._tick(float(p), "down", target, below=False)
        return target


def _as_float(name: str, x: Any, n: int | None) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        raise ValueError(f"{name} must be a 1-D array of {n} values, got shape {a.shape}")
    return a


def _day_ends(day: Any, n: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]] | None:
    """(last bar of its day (n,) bool, index of the last bar of each bar's day (n,))."""
    if day is None:
        return None
    d = np.asarray(day)
    if d.shape != (n,):
        raise ValueError(f"day must have shape ({n},), got {d.shape}")
    last = np.ones(n, dtype=bool)
    last[:-1] = d[1:] != d[:-1]
    ends = np.flatnonzero(last)
    return last, ends[np.searchsorted(ends, np.arange(n))]


def _levels(fill: float, a: float, cfg: SimConfig) -> tuple[float, float]:
    stop, target = fill - cfg.sl_mult * a, fill + cfg.tp_mult * a
    if cfg.tick_size:
        stop = _round(stop, cfg.tick_size, "down")
        target = _round(target, cfg.tick_size, "up")
    return stop, target


def _size(
    cash: float, fill: float, cfg: SimConfig, charge: Any, signal_close: float
) -> tuple[int, float]:
    """(shares, buy charges INR) affordable from ``cash`` at ``fill``; (0, 0) when none.
    ``charge(side, qty, price)`` gives the INR charges of one order; the budget is divided by
    ``signal_close`` when ``cfg.size_at_signal_close`` (the engine's rule), else by ``fill``."""
    price = signal_close if cfg.size_at_signal_close else fill
    qty = int(math.floor(cash * cfg.position_size / price + 1e-9))
    while qty > 0:
        ce = charge("buy", qty, fill)
        if qty * fill + ce <= cash:
            return qty, ce
        qty -= 1
    return 0, 0.0


_NONE = 1 << 62  # "no such bar"


def _square_off_bars(
    minutes: npt.NDArray[np.int64], day_end: npt.NDArray[np.int64], square_off_min: int | None
) -> npt.NDArray[np.int64]:
    """(n,) for each bar: the first bar at or after it, in its day, ending at or after
    ``square_off_min`` (the engine's square-off bar), else :data:`_NONE`."""
    n = minutes.shape[0]
    out = np.full(n, _NONE, dtype=np.int64)
    if square_off_min is None:
        return out
    flagged = np.flatnonzero(minutes >= square_off_min)
    if flagged.size == 0:
        return out
    k = np.searchsorted(flagged, np.arange(n))
    nxt = flagged[np.minimum(k, flagged.size - 1)]
    ok = (k < flagged.size) & (nxt <= day_end)
    out[ok] = nxt[ok]
    return out


class Simulator:
    """The bars, the exit signals and the config of :func:`simulate`, for many entry sets.

    A trade's fill, stop, target and exit depend only on its signal bar (not on the trades
    before it; only its size does), so they are computed once per signal bar and reused:
    the no-skill baseline runs hundreds of random entry sets on one ``Simulator``.

    Args:
        open_, high, low, close, atr: as :func:`simulate`.
        sell: (n,) bool, True where the SELL class passes the threshold at the close.
        day, cfg: as :func:`simulate`.

    Attributes:
        eligible: (n,) bool, bars whose close may open a position (finite ATR > 0, not the
            last bar of the data or, intraday, of its day).
    """

    def __init__(
        self, open_: Any, high: Any, low: Any, close: Any, atr: Any, sell: Any, day: Any,
        cfg: SimConfig, minutes: Any = None,
    ) -> None:  # fmt: skip
        if cfg.allow_short:
            raise NotImplementedError("allow_short: shorts are not simulated (long-only engine)")
        self.close = _as_float("close", close, None)
        n = self.n = self.close.shape[0]
        if n == 0:
            raise ValueError("simulate needs at least one bar")
        self.open, self.high, self.low, self.atr = (
            _as_float(k, v, n)
            for k, v in (("open", open_), ("high", high), ("low", low), ("atr", atr))
        )
        self.sell = np.asarray(sell, dtype=bool)
        if self.sell.shape != (n,):
            raise ValueError(f"sell must have shape ({n},), got {self.sell.shape}")
        self.day, self.cfg = day, cfg
        ends = _day_ends(day, n)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(self.atr) & (self.atr > 0)
        ok[-1] = False
        if ends is not None:
            ok &= ~ends[0]
        self.square_off: npt.NDArray[np.int64] | None = None
        if cfg.session is not None and minutes is not None and ends is not None:
            m = np.asarray(minutes, dtype=np.int64)
            ok &= cfg.session.entry_ok(m)
            self.square_off = _square_off_bars(m, ends[1], cfg.session.square_off_min)
        self.eligible: npt.NDArray[np.bool_] = ok
        self.day_end = None if ends is None else ends[1]
        self.fills = _Fills(self.open, self.high, self.low, cfg)
        self._plans: dict[int, tuple[float, float, float, int, float, str]] = {}
        self._charges: dict[tuple[str, int, float], float] = {}

    def charge(self, side: str, qty: int, price: float) -> float:
        """INR charges of one order (memoised: the no-skill runs repeat fills)."""
        key = (side, qty, price)
        got = self._charges.get(key)
        if got is None:
            cfg = self.cfg
            got = self._charges[key] = cfg.charges.compute(side, qty, price, cfg.product).total
        return got

    def _plan(self, i: int) -> tuple[float, float, float, int, float, str]:
        """(fill, stop, target, exit bar, exit price, reason) of a trade signalled at ``i``."""
        got = self._plans.get(i)
        if got is not None:
            return got
        n, j, cfg = self.n, i + 1, self.cfg
        fill = self.fills.buy(j)
        if cfg.barriers == "close":  # compared with closes as the engine's exit mixin does
            stop, target = fill - cfg.sl_mult * self.atr[i], fill + cfg.tp_mult * self.atr[i]
        else:
            stop, target = _levels(fill, float(self.atr[i]), cfg)
        day_end = int(self.day_end[j]) if self.day_end is not None else n - 1
        sq = int(self.square_off[j]) if self.square_off is not None else _NONE
        end = min(i + cfg.horizon, day_end, n - 1, sq)
        # closes j .. last-1 can ask for an exit at the next open (the last bar's close ends
        # the trade itself when it is the day's or the data's last bar; at the square-off
        # bar's close the engine squares off before asking the exit mixin)
        last = end if end in (day_end, n - 1, sq) else end + 1
        out = (
            self._by_close(j, last, stop, target)
            if cfg.barriers == "close"
            else self._intrabar(j, end, last, stop, target)
        )
        if out is not None:
            x, px, why = out
        elif end == sq and sq < day_end:
            x = sq + 1
            px, why = self.fills.sell(x, float(self.open[x])), "square_off"
        elif end == day_end and self.day_end is not None:
            x, px, why = end, self.fills.sell(end, float(self.close[end])), "square_off"
        elif end == n - 1:
            x, px, why = end, self.fills.sell(end, float(self.close[end])), "end_of_data"
        else:
            x = end + 1
            px, why = self.fills.sell(x, float(self.open[x])), "horizon"
        plan = self._plans[i] = (float(fill), float(stop), float(target), x, px, why)
        return plan

    def _intrabar(
        self, j: int, end: int, last: int, stop: float, target: float
    ) -> tuple[int, float, str] | None:
        """Protective orders touched in bars j..end, or a SELL at closes j..last-1."""
        touched = (self.low[j : end + 1] <= stop) | (self.high[j : end + 1] >= target)
        sig = self.sell[j:last]
        hit = int(touched.argmax()) if touched.any() else _NONE  # first True
        signal = int(sig.argmax()) if sig.any() else _NONE
        if hit < _NONE and hit <= signal:
            k = j + hit
            if self.low[k] <= stop:
                return k, self.fills.stop(k, stop), "stop_loss"
            return k, self.fills.target(k, target), "take_profit"
        if signal < _NONE:
            x = j + signal + 1
            return x, self.fills.sell(x, float(self.open[x])), "signal"
        return None

    def _by_close(
        self, j: int, last: int, stop: float, target: float
    ) -> tuple[int, float, str] | None:
        """The first close in j..last-1 at/below the stop, at/above the target or with a SELL
        (checked in that order): exit at the next open."""
        c = self.close[j:last]
        low, high = c <= stop, c >= target
        ev = low | high | self.sell[j:last]
        if not ev.any():
            return None
        k = int(ev.argmax())
        why = "stop_loss" if low[k] else "take_profit" if high[k] else "signal"
        x = j + k + 1
        return x, self.fills.sell(x, float(self.open[x])), why

    def run(self, buy: Any) -> SimResult:
        """Simulate the BUY signals ``buy`` ((n,) bool; taken where :attr:`eligible`)."""
        b = np.asarray(buy, dtype=bool)
        if b.shape != (self.n,):
            raise ValueError(f"buy must have shape ({self.n},), got {b.shape}")
        cand: list[int] = np.flatnonzero(b & self.eligible).tolist()
        cfg, close = self.cfg, self.close
        equity = np.empty(self.n, dtype=np.float64)
        in_market = np.zeros(self.n, dtype=bool)
        trades: list[dict[str, Any]] = []
        cash, prev, skipped, pos = float(cfg.capital), 0, 0, 0
        cap = cfg.session.max_daily_entries if cfg.session is not None else None
        if self.day is None:
            cap = None
        per_day: dict[int, int] = {}
        while pos < len(cand):
            i = cand[pos]
            fill, stop, target, x, px, reason = self._plan(i)
            if cap is not None and per_day.get(int(self.day[i]), 0) >= cap:
                pos += 1  # the engine's max_daily_trades: refused
                continue
            qty, ce = _size(cash, fill, cfg, self.charge, float(close[i]))
            if cap is not None:
                per_day[int(self.day[i])] = per_day.get(int(self.day[i]), 0) + 1
            if qty == 0:
                skipped, pos = skipped + 1, pos + 1
                continue
            j = i + 1
            cx = self.charge("sell", qty, px)
            after_entry = cash - qty * fill - ce
            equity[prev:j] = cash
            equity[j:x] = after_entry + qty * close[j:x]
            in_market[j:x] = True
            gross = (px - fill) * qty
            cash = after_entry + qty * px - cx
            row = (i, j, x, fill, px, stop, target, qty, gross, ce, cx, ce + cx, gross - ce - cx)
            trades.append({**dict(zip(TRADE_KEYS, row, strict=True)), "reason": reason,
                           "bars_held": x - j})  # fmt: skip
            prev = x
            pos = bisect.bisect_left(cand, x)
        equity[prev:] = cash
        returns, sharpe = sharpe_of_equity(equity, self.day, cfg.periods_per_year)
        return SimResult(trades, equity, in_market, returns, sharpe, skipped)


def _signals(proba: Any, n: int, threshold: float) -> tuple[Any, Any]:
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (n, 3):
        raise ValueError(f"proba must have shape ({n}, 3), got {p.shape}")
    with np.errstate(invalid="ignore"):  # NaN rows: no signal
        return p[:, BUY] >= threshold, p[:, SELL] >= threshold


def simulate(
    open_: Any,
    high: Any,
    low: Any,
    close: Any,
    atr: Any,
    proba: Any,
    day: Any,
    cfg: SimConfig,
    minutes: Any = None,
) -> SimResult:
    """Simulate the long trades ``proba`` asks for, with the rules of the module docstring.

    Args:
        open_, high, low, close: bar prices, INR, shape (n,), oldest first.
        atr: ATR of each bar, INR, shape (n,) (NaN: no entry on that bar).
        proba: (n, 3) class probabilities (columns SELL, HOLD, BUY of :mod:`mixbot.ml.labels`);
            a NaN row is "no prediction" (no entry, no exit signal).
        day: (n,) day ordinal of each bar (intraday: squared off at each day's last bar, use
            :func:`day_index`), or None for daily or slower bars (no square-off).
        cfg: the :class:`SimConfig`.
        minutes: (n,) bar END minutes after local midnight, for ``cfg.session`` (intraday).

    Returns:
        :class:`SimResult` (equity INR, trades, annualised Sharpe or None).

    Raises:
        ValueError: arrays of mismatched shapes, or n == 0.
        NotImplementedError: ``cfg.allow_short`` (shorts are not simulated yet).
    """
    buy, sell = _signals(proba, np.asarray(close).shape[0], cfg.threshold)
    return Simulator(open_, high, low, close, atr, sell, day, cfg, minutes).run(buy)


def period_returns(equity: Any, day: Any) -> FloatArray:
    """Simple returns (fractions) the Sharpe uses: per bar when ``day`` is None, else of the
    last equity of each day (the first day measured from ``equity[0]``), as
    :func:`mixbot.backtest.metrics.period_returns`."""
    eq = np.asarray(equity, dtype=np.float64)
    if day is None:
        return eq[1:] / eq[:-1] - 1.0
    ends = _day_ends(day, eq.shape[0])
    assert ends is not None
    daily = eq[ends[0]]
    prev = np.concatenate(([eq[0]], daily[:-1]))
    return daily / prev - 1.0


def sharpe_of_equity(
    equity: Any, day: Any, periods_per_year: float = float(NSE.trading_days_per_year)
) -> tuple[FloatArray, float | None]:
    """(returns, annualised Sharpe or None) of an equity curve (INR, (n,)).

    The ratio is :mod:`mixbot.backtest.metrics`'s (``mean / std(ddof=1) * sqrt(N)``, None for
    fewer than 2 returns or zero variance), with ``N`` = 252 (NSE trading days) when ``day``
    is given (daily returns), else ``periods_per_year`` (per-bar returns).
    """
    r = period_returns(equity, day)
    n = float(NSE.trading_days_per_year) if day is not None else float(periods_per_year)
    sharpe, _ = _sharpe_sortino(pd.Series(r), n, 0.0)
    return r, sharpe


def objective_score(result: SimResult, min_trades: int = MIN_TRADES) -> tuple[float, str]:
    """The tuner's score of a simulation (to maximise) and why.

    Returns:
        ``(sharpe, "sharpe 1.23 over 17 trades")`` when there are at least ``min_trades``
        trades and the Sharpe is defined; otherwise ``(TOO_FEW_TRADES_SCORE, reason)``, e.g.
        ``(-10.0, "3 trades < 5: too few for a Sharpe")`` or ``(-10.0, "8 trades but the
        Sharpe is undefined (fewer than 2 daily returns or zero variance)")``.
    """
    n = result.n_trades
    if n < min_trades:
        return TOO_FEW_TRADES_SCORE, f"{n} trades < {min_trades}: too few for a Sharpe"
    if result.sharpe is None:
        return TOO_FEW_TRADES_SCORE, (
            f"{n} trades but the Sharpe is undefined (fewer than 2 daily returns or zero variance)"
        )
    return float(result.sharpe), f"sharpe {result.sharpe:.3f} over {n} trades"


def day_index(bar_end: Any, tz: str = NSE.timezone) -> npt.NDArray[np.int64]:
    """Calendar day ordinal in ``tz`` (default IST) of each bar END time (naive UTC
    datetime64, (n,)): the ``day`` argument of :func:`simulate` for intraday bars."""
    idx = pd.DatetimeIndex(bar_end).tz_localize("UTC").tz_convert(tz)
    local = idx.tz_localize(None).to_numpy().astype("datetime64[D]")
    return local.astype(np.int64)


def to_trade_records(result: SimResult, bar_end: Any) -> list[TradeRecord]:
    """The trades as :class:`mixbot.backtest.metrics.TradeRecord` (times: the END time of the
    entry and exit fill bars, naive UTC; ``bar_end``: (n,) datetime64)."""
    times = pd.DatetimeIndex(bar_end)
    return [
        TradeRecord(
            entry_time=times[t["entry_i"]].to_pydatetime(),
            exit_time=times[t["exit_i"]].to_pydatetime(),
            side="long",
            size=float(t["qty"]),
            entry_price=float(t["entry_price"]),
            exit_price=float(t["exit_price"]),
            pnl_gross=float(t["pnl_gross"]),
            charges=float(t["charges"]),
            pnl_net=float(t["pnl_net"]),
            exit_reason=str(t["reason"]),
            bars_held=int(t["bars_held"]),
        )
        for t in result.trades
    ]
