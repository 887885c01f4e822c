"""ATR-based stop-loss / take-profit exit."""

from __future__ import annotations

from mixbot.strategy.mixin import Bars, ExitMixin, PositionState
from mixbot.strategy.registry import register


@register("exit")
class ATRExitMixin(ExitMixin):
    """Exit at a multiple of ATR below (stop) or above (target) the entry price.

    At entry the ATR(x_atr_period) of the entry bar is frozen (Wilder ATR, TA-Lib).
    Rule, on the CLOSE of bar i after entry:
    ``close[i] <= entry_price - x_sl_multiplier * ATR_entry`` -> ``stop_loss``;
    ``close[i] >= entry_price + x_tp_multiplier * ATR_entry`` -> ``take_profit``.
    With ``x_trailing`` true the stop follows the highest close since entry:
    ``close[i] <= highest_close - x_sl_multiplier * ATR[i]`` -> ``trailing_stop``
    (a chandelier-style stop, Chuck LeBeau). Exits fill at the next bar's open.
    """

    PARAMS = {
        "x_atr_period": {
            "type": "integer",
            "minimum": 1,
            "maximum": 500,
            "default": 14,
            "description": "ATR period in bars.",
        },
        "x_sl_multiplier": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 50,
            "default": 2.0,
            "description": "Stop distance in ATRs below the entry (or the highest close when trailing).",
        },
        "x_tp_multiplier": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 100,
            "default": 3.0,
            "description": "Target distance in ATRs above the entry.",
        },
        "x_trailing": {
            "type": "boolean",
            "default": False,
            "description": "Trail the stop under the highest close since entry.",
        },
    }

    def warmup(self) -> int:
        return self.p.x_atr_period + 1

    def compute(self, bars: Bars) -> None:
        from mixbot.indicators import atr  # lazy: keeps `mixbot validate` fast

        self._atr = atr(bars.high, bars.low, bars.close, self.p.x_atr_period).tolist()
        self._close = bars.close.tolist()

    def on_entry(self, bars: Bars, i: int, state: PositionState) -> None:
        state.entry_atr = self._atr[i]

    def should_exit(self, bars: Bars, i: int, state: PositionState) -> str | None:
        a0 = state.entry_atr
        if a0 is None or a0 != a0:  # entered before ATR warmed up: use today's ATR
            a0 = self._atr[i]
            if a0 != a0:
                return None
            state.entry_atr = a0
        close = self._close[i]
        if close >= state.entry_price + self.p.x_tp_multiplier * a0:
            return "take_profit"
        if self.p.x_trailing:
            a = self._atr[i]
            if a == a and close <= state.highest_close - self.p.x_sl_multiplier * a:
                return "trailing_stop"
        if close <= state.entry_price - self.p.x_sl_multiplier * a0:
            return "stop_loss"
        return None
