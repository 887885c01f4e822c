"""A preloaded Backtrader feed over numpy arrays (backtests).

Backtrader's ``PandasData`` reads every cell with ``.iloc`` and is the bottleneck of a
fast backtest; this feed fills the line buffers in bulk in :meth:`preload` instead.
It also exposes the arrays (:attr:`series`) so that indicators are computed once,
vectorised, over the whole series.
"""

from __future__ import annotations

import backtrader as bt

from mixbot.feeds.series import BarSeries


class ArrayFeed(bt.feed.DataBase):
    """Backtrader data feed over a :class:`~mixbot.feeds.series.BarSeries`.

    Params:
        series: the bars (required). Times in the lines are naive UTC (Backtrader's
            convention); pass ``tz`` (e.g. ``Asia/Kolkata``) to have ``datetime()`` show local time.
    """

    params = (("series", None),)

    def islive(self) -> bool:
        return False

    def start(self) -> None:
        super().start()
        self._i = 0

    def preload(self) -> None:
        """Fill every line buffer at once (same end state as Backtrader's per-bar preload)."""
        s: BarSeries = self.p.series
        lines = self.lines
        lines.datetime.array.extend(s.num.tolist())
        lines.open.array.extend(s.open.tolist())
        lines.high.array.extend(s.high.tolist())
        lines.low.array.extend(s.low.tolist())
        lines.close.array.extend(s.close.tolist())
        lines.volume.array.extend(s.volume.tolist())
        lines.openinterest.array.extend([0.0] * len(s))
        for line in self.lines:
            line.idx = len(s) - 1
            line.lencount = len(s)
        self._i = len(s)  # nothing left for the per-bar path
        self._last()
        self.home()
        self._tick_nullify()

    def advance(self, size: int = 1, datamaster: object = None, ticks: bool = True) -> None:
        # Whole preloaded bars need no partial-bar (tick_*) bookkeeping; the broker falls back
        # to the bar's open/high/low/close when tick_* is None.
        super().advance(size, datamaster, ticks=False)

    def _load(self) -> bool:
        """Per-bar path (used only when Cerebro runs with preload=False)."""
        s: BarSeries = self.p.series
        i = self._i
        if i >= len(s):
            return False
        lines = self.lines
        lines.datetime[0] = float(s.num[i])
        lines.open[0] = float(s.open[i])
        lines.high[0] = float(s.high[i])
        lines.low[0] = float(s.low[i])
        lines.close[0] = float(s.close[i])
        lines.volume[0] = float(s.volume[i])
        lines.openinterest[0] = 0.0
        self._i = i + 1
        return True
