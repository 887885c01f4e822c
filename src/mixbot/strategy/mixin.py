"""Base classes of entry and exit mixins, and the bar arrays they read.

Mixins are plain Python: they never touch Backtrader. The strategy hands them a
:class:`Bars` object of numpy arrays (one element per closed bar, oldest first) and
asks about the LAST bar (index ``i``). Indicators are computed vectorised over the
arrays in :meth:`compute` (TA-Lib), once per feed in a backtest and over a trailing
window after each new bar in live/replay modes; the mixin cannot tell which.
All decisions are taken on bar CLOSE; orders they cause are filled by the broker
on the next bar (see the README's fill assumptions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np


@dataclass
class Bars:
    """OHLCV arrays of closed bars, oldest first.

    Attributes:
        open, high, low, close: prices (INR for NSE), float64, shape (n,).
        volume: traded quantity (shares/contracts), float64, shape (n,).
        minutes: minutes since local (IST) midnight of each bar's END time, int64, shape (n,).
        offset: absolute index of element 0 in the whole feed (0 in a backtest).
        end: each bar's END time, naive UTC, ``datetime64[us]``, shape (n,); None where the
            caller has no times (hand-built bars in tests).
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    minutes: np.ndarray
    offset: int = 0
    end: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.close.shape[0])

    @classmethod
    def from_series(cls, series: Any) -> Bars:
        """The bars (offset 0, END times included) of a
        :class:`~mixbot.feeds.series.BarSeries`, as a backtest hands them to the mixins."""
        return cls(
            series.open,
            series.high,
            series.low,
            series.close,
            series.volume,
            series.minutes,
            0,
            end=series.end,
        )


@dataclass
class PositionState:
    """What the exit logic knows about the open position.

    Attributes:
        entry_price: average entry fill price, INR.
        entry_bar: absolute bar index (0-based over the whole feed) of the bar whose close
            triggered the entry.
        size: shares held (positive = long).
        highest_close: highest bar close since entry (inclusive of the entry bar), INR.
        lowest_close: lowest bar close since entry, INR.
        entry_atr: any value the exit mixin chose to freeze at entry (e.g. ATR), or None.
        extra: free-form state of the exit mixin, restored on restart.
    """

    entry_price: float
    entry_bar: int
    size: float
    highest_close: float
    lowest_close: float
    entry_atr: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Mixin:
    """Common part of entry and exit mixins.

    Subclasses set ``PARAMS`` (JSON Schema property schemas with defaults and units) and
    implement :meth:`warmup` and :meth:`compute`.
    """

    PARAMS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        merged = {k: v["default"] for k, v in self.PARAMS.items()}
        merged.update(params or {})
        self.p = SimpleNamespace(**merged)

    def warmup(self) -> int:
        """Bars needed before the first valid signal."""
        return 0

    def configure(self, cfg: Any) -> None:
        """Called once with the bot's :class:`~mixbot.config.model.BotConfig` before any
        :meth:`compute` (the engine does it; a mixin that needs the bot id or the bar size,
        like the ML mixins, keeps what it needs)."""

    def compute(self, bars: Bars) -> None:
        """Compute indicator arrays over ``bars`` (vectorised). Called before any query."""


class EntryMixin(Mixin):
    """Says whether to open a long position at the close of bar ``i``."""

    def should_enter(self, bars: Bars, i: int) -> bool:
        """True when the entry rule holds on bar ``i`` (index into ``bars``)."""
        raise NotImplementedError


class ExitMixin(Mixin):
    """Says whether to close the open position at the close of bar ``i``."""

    def on_entry(self, bars: Bars, i: int, state: PositionState) -> None:
        """Called once when the entry fills; may freeze values into ``state``."""

    def should_exit(self, bars: Bars, i: int, state: PositionState) -> str | None:
        """Return an exit reason (``signal``, ``stop_loss``, ``take_profit``,
        ``trailing_stop``, ``time``) when the position must be closed, else None."""
        raise NotImplementedError


def valid(*values: float) -> bool:
    """True when no value is NaN (indicator warmed up)."""
    return not any(v != v for v in values)
