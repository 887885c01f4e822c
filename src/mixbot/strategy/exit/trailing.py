"""Percent trailing-stop exit."""

from __future__ import annotations

from mixbot.strategy.mixin import Bars, ExitMixin, PositionState
from mixbot.strategy.registry import register


@register("exit")
class TrailingStopExitMixin(ExitMixin):
    """Exit when the close falls a percentage below the highest close since entry.

    Rule, on the CLOSE of bar i after entry: once ``highest_close >= entry_price *
    (1 + x_activation_pct/100)`` the stop is armed, and ``close[i] <= highest_close *
    (1 - x_trail_pct/100)`` -> ``trailing_stop``. Before arming, ``close[i] <= entry_price *
    (1 - x_initial_stop_pct/100)`` -> ``stop_loss`` (when x_initial_stop_pct > 0).
    Percent params are percent numbers (2.0 = 2 %). Exits fill at the next bar's open.
    """

    PARAMS = {
        "x_trail_pct": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 100,
            "default": 2.0,
            "description": "Trailing distance, percent below the highest close (2.0 = 2 %).",
        },
        "x_activation_pct": {
            "type": "number",
            "minimum": 0,
            "maximum": 1000,
            "default": 0.0,
            "description": "Gain over entry, percent, before the trail arms (0 = at once).",
        },
        "x_initial_stop_pct": {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": 100,
            "default": 0.0,
            "description": "Stop below entry, percent, until the trail arms (0 = none).",
        },
    }

    def compute(self, bars: Bars) -> None:
        self._close = bars.close.tolist()

    def should_exit(self, bars: Bars, i: int, state: PositionState) -> str | None:
        close = self._close[i]
        armed = state.highest_close >= state.entry_price * (1 + self.p.x_activation_pct / 100.0)
        if armed:
            if close <= state.highest_close * (1 - self.p.x_trail_pct / 100.0):
                return "trailing_stop"
        elif self.p.x_initial_stop_pct > 0 and close <= state.entry_price * (
            1 - self.p.x_initial_stop_pct / 100.0
        ):
            return "stop_loss"
        return None
