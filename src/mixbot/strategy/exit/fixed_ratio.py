"""Fixed risk/reward exit."""

from __future__ import annotations

from mixbot.strategy.mixin import Bars, ExitMixin, PositionState
from mixbot.strategy.registry import register


@register("exit")
class FixedRatioExitMixin(ExitMixin):
    """Exit at a fixed stop distance and a target at a fixed multiple of it.

    Rule, on the CLOSE of bar i after entry: ``close[i] <= entry_price * (1 -
    x_stop_pct/100)`` -> ``stop_loss``; ``close[i] >= entry_price * (1 + x_stop_pct *
    x_reward_ratio / 100)`` -> ``take_profit``. Example: x_stop_pct 2.0 and x_reward_ratio
    2.0 give a 2 % stop and a 4 % target. Exits fill at the next bar's open.
    """

    PARAMS = {
        "x_stop_pct": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 100,
            "default": 2.0,
            "description": "Stop distance below entry, percent (2.0 = 2 %).",
        },
        "x_reward_ratio": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 100,
            "default": 2.0,
            "description": "Target distance as a multiple of the stop distance.",
        },
    }

    def compute(self, bars: Bars) -> None:
        self._close = bars.close.tolist()

    def should_exit(self, bars: Bars, i: int, state: PositionState) -> str | None:
        close = self._close[i]
        if close <= state.entry_price * (1 - self.p.x_stop_pct / 100.0):
            return "stop_loss"
        if close >= state.entry_price * (1 + self.p.x_stop_pct * self.p.x_reward_ratio / 100.0):
            return "take_profit"
        return None
