"""Helpers of the Yahoo venue tests (a uniquely named module: conftest is not importable)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mixbot.clock import ManualClock

DAILY = "nse_daily/RELIANCE.csv"
MINUTE = "nse_1min/BANKNIFTY_F1_2019H1.txt"


def ist(day: str, hhmm: str) -> float:
    """Epoch seconds of ``day`` ``hh:mm`` IST."""
    h, m = (int(x) for x in hhmm.split(":"))
    d = dt.date.fromisoformat(day)
    return dt.datetime.combine(d, dt.time(h, m), dt.timezone(dt.timedelta(hours=5.5))).timestamp()


class SimDrivenClock(ManualClock):
    """A manual wall clock whose every wait also moves the simulator's clock by ``step``
    simulated seconds: a polling feed then sees the market advance one step per poll,
    however fast or slow the machine is."""

    def __init__(self, sim: Any, step: float) -> None:
        super().__init__()
        self.sim = sim
        self.step = step

    def wait(self, event: Any, seconds: float) -> bool:
        if event.is_set():
            return True
        self.sim.clock.advance(self.step)
        self.sleep(seconds)
        return event.is_set()
