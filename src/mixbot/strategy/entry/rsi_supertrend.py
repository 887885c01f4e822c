"""RSI + volume + Supertrend entry."""

from __future__ import annotations

from mixbot.strategy import params as P
from mixbot.strategy.mixin import Bars, EntryMixin
from mixbot.strategy.registry import register


@register("entry")
class RSIVolumeSupertrendEntryMixin(EntryMixin):
    """Long when Supertrend turns up on above-average volume, unless RSI is overbought.

    Rule, on the CLOSE of bar i: Supertrend direction flips from down to up on bar i
    (``dir[i] == +1 and dir[i-1] == -1``), ``volume[i] > e_min_volume_ratio *
    SMA(volume, e_vol_ma_period)[i]`` (skipped when e_min_volume_ratio is 0, e.g. for
    indices without volume), and ``RSI(e_rsi_period)[i] < e_rsi_overbought``.
    Source: Supertrend by Olivier Seban (ATR bands around the median price, Wilder ATR).
    """

    PARAMS = {
        **P.rsi_overbought_guard(),
        "e_st_period": P.period("Supertrend ATR period in bars.", 10, minimum=1),
        "e_st_multiplier": P.positive("Supertrend band width in ATRs.", 3.0, 20),
        **P.volume_filter(1.0),
    }

    def warmup(self) -> int:
        return max(self.p.e_rsi_period + 1, self.p.e_st_period + 1, self.p.e_vol_ma_period)

    def compute(self, bars: Bars) -> None:
        from mixbot.indicators import rsi, sma, supertrend  # lazy: keeps `mixbot validate` fast

        st = supertrend(bars.high, bars.low, bars.close, self.p.e_st_period, self.p.e_st_multiplier)
        self._dir = st.direction.tolist()
        self._rsi = rsi(bars.close, self.p.e_rsi_period).tolist()
        self._volume = bars.volume.tolist()
        self._vol_ma = sma(bars.volume, self.p.e_vol_ma_period).tolist()

    def should_enter(self, bars: Bars, i: int) -> bool:
        if i < 1 or not (self._dir[i] == 1 and self._dir[i - 1] == -1):
            return False
        if self.p.e_min_volume_ratio > 0:
            avg = self._vol_ma[i]
            if not (avg > 0 and self._volume[i] > self.p.e_min_volume_ratio * avg):
                return False
        return self._rsi[i] < self.p.e_rsi_overbought
