"""RSI + Bollinger Bands entries (with and without a volume filter)."""

from __future__ import annotations

from mixbot.strategy import params as P
from mixbot.strategy.mixin import Bars, EntryMixin
from mixbot.strategy.registry import register

RSI_BB_PARAMS = {
    "e_rsi_period": P.period("RSI period in bars (Wilder RSI, TA-Lib).", 14),
    "e_rsi_oversold": P.rsi_level("RSI level (0-100) below which price is oversold.", 30.0),
    **P.bollinger("e"),
}


@register("entry")
class RSIBBEntryMixin(EntryMixin):
    """Long when RSI is oversold and the close is below the lower Bollinger Band.

    Rule, evaluated on the CLOSE of bar i: ``RSI(e_rsi_period)[i] < e_rsi_oversold`` and
    ``close[i] < lower_band(e_bb_period, e_bb_dev)[i]``. Both are levels, not crosses:
    every bar satisfying them is a signal (the strategy enters only when flat).
    Sources: RSI, J. Welles Wilder (1978); Bollinger Bands, John Bollinger (2001); both
    computed by TA-Lib.
    """

    PARAMS = RSI_BB_PARAMS

    def warmup(self) -> int:
        return max(self.p.e_rsi_period + 1, self.p.e_bb_period)

    def compute(self, bars: Bars) -> None:
        from mixbot.indicators import bbands, rsi  # lazy: keeps `mixbot validate` fast

        self._rsi = rsi(bars.close, self.p.e_rsi_period).tolist()
        _, _, lower = bbands(bars.close, self.p.e_bb_period, self.p.e_bb_dev)
        self._lower = lower.tolist()
        self._close = bars.close.tolist()

    def should_enter(self, bars: Bars, i: int) -> bool:
        # NaN compares False, so warm-up bars never signal.
        return self._rsi[i] < self.p.e_rsi_oversold and self._close[i] < self._lower[i]


@register("entry")
class RSIBBVolumeEntryMixin(RSIBBEntryMixin):
    """RSIBBEntryMixin plus a volume spike: volume above its average by a ratio.

    Rule, on the CLOSE of bar i: the RSIBBEntryMixin rule and
    ``volume[i] > e_min_volume_ratio * SMA(volume, e_vol_ma_period)[i]``
    (the average includes bar i). Bars with zero average volume (indices) never pass.
    """

    PARAMS = {**RSI_BB_PARAMS, **P.volume_filter(1.5)}

    def warmup(self) -> int:
        return max(super().warmup(), self.p.e_vol_ma_period)

    def compute(self, bars: Bars) -> None:
        super().compute(bars)
        from mixbot.indicators import sma  # lazy: keeps `mixbot validate` fast

        self._volume = bars.volume.tolist()
        self._vol_ma = sma(bars.volume, self.p.e_vol_ma_period).tolist()

    def should_enter(self, bars: Bars, i: int) -> bool:
        if not super().should_enter(bars, i):
            return False
        avg = self._vol_ma[i]
        return avg > 0 and self._volume[i] > self.p.e_min_volume_ratio * avg
