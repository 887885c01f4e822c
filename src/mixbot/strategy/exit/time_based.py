"""Time-based exit."""

from __future__ import annotations

from mixbot.strategy.mixin import Bars, ExitMixin, PositionState
from mixbot.strategy.registry import register


@register("exit")
class TimeBasedExitMixin(ExitMixin):
    """Exit after a number of bars in the trade, or at a local time of day.

    Rule, on the CLOSE of bar i: ``i_abs - entry_bar >= x_max_bars`` -> ``time``, where
    the entry bar is the bar whose close triggered the entry; or, when ``x_exit_time`` is
    set, the bar's END time (market time zone, IST for NSE) is at or after that HH:MM ->
    ``time``. Exits fill at the next bar's open.
    """

    PARAMS = {
        "x_max_bars": {
            "type": "integer",
            "minimum": 1,
            "maximum": 100000,
            "default": 20,
            "description": "Bars held before exiting.",
        },
        "x_exit_time": {
            "type": ["string", "null"],
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
            "default": None,
            "description": "Exit at this HH:MM market time (null = off).",
        },
    }

    def compute(self, bars: Bars) -> None:
        self._minutes = bars.minutes.tolist()
        t = self.p.x_exit_time
        self._exit_minute = None if t is None else int(t[:2]) * 60 + int(t[3:])

    def should_exit(self, bars: Bars, i: int, state: PositionState) -> str | None:
        if bars.offset + i - state.entry_bar >= self.p.x_max_bars:
            return "time"
        if self._exit_minute is not None and self._minutes[i] >= self._exit_minute:
            return "time"
        return None
