"""RSI + Bollinger Bands exit."""

from __future__ import annotations

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
        "x_rsi_period": {
            "type": "integer",
            "minimum": 2,
            "maximum": 500,
            "default": 14,
            "description": "RSI period in bars.",
        },
        "x_rsi_overbought": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 100,
            "default": 70.0,
            "description": "RSI level (0-100) at or above which to exit.",
        },
        "x_bb_period": {
            "type": "integer",
            "minimum": 2,
            "maximum": 500,
            "default": 20,
            "description": "Bollinger Bands period in bars.",
        },
        "x_bb_dev": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 10,
            "default": 2.0,
            "description": "Bollinger Bands width in standard deviations.",
        },
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
