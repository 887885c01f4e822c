"""RSI + Bollinger Bands exit."""

from __future__ import annotations

from mixbot.strategy import params as P
from mixbot.strategy.mixin import Bars, ExitMixin, PositionState
from mixbot.strategy.registry import register


@register("exit")
class RSIBBExitMixin(ExitMixin):
    """Exit when RSI is overbought or the close reaches the upper Bollinger Band.

    Rule, on the CLOSE of bar i (i after the entry bar): ``RSI(x_rsi_period)[i] >=
    x_rsi_overbought`` or ``close[i] >= upper_band(x_bb_period, x_bb_dev)[i]``.
    Reason ``signal``; the exit order is a market order filled at the next bar's open.
    """

    PARAMS = {
        "x_rsi_period": P.period("RSI period in bars (Wilder RSI, TA-Lib).", 14),
        "x_rsi_overbought": P.rsi_level("RSI level (0-100) at or above which to exit.", 70.0),
        **P.bollinger("x"),
    }

    def warmup(self) -> int:
        return max(self.p.x_rsi_period + 1, self.p.x_bb_period)

    def compute(self, bars: Bars) -> None:
        from mixbot.indicators import bbands, rsi  # lazy: keeps `mixbot validate` fast

        self._rsi = rsi(bars.close, self.p.x_rsi_period).tolist()
        upper, _, _ = bbands(bars.close, self.p.x_bb_period, self.p.x_bb_dev)
        self._upper = upper.tolist()
        self._close = bars.close.tolist()

    def should_exit(self, bars: Bars, i: int, state: PositionState) -> str | None:
        if self._rsi[i] >= self.p.x_rsi_overbought or self._close[i] >= self._upper[i]:
            return "signal"
        return None
