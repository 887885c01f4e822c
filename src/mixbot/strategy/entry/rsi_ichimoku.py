"""RSI + Ichimoku entry."""

from __future__ import annotations

from mixbot.strategy import params as P
from mixbot.strategy.mixin import Bars, EntryMixin
from mixbot.strategy.registry import register


@register("entry")
class RSIIchimokuEntryMixin(EntryMixin):
    """Long on a Tenkan/Kijun bullish cross above the cloud, unless RSI is overbought.

    Rule, on the CLOSE of bar i:
    ``tenkan[i] > kijun[i] and tenkan[i-1] <= kijun[i-1]`` (the cross happens on bar i),
    ``close[i] > max(senkou_a[i], senkou_b[i])`` (above the cloud as plotted at bar i, which
    uses data up to bar i - e_displacement only), and
    ``RSI(e_rsi_period)[i] < e_rsi_overbought``.
    Source: Goichi Hosoda's Ichimoku Kinko Hyo (lines as documented by StockCharts);
    RSI by Wilder (TA-Lib).
    """

    PARAMS = {
        **P.rsi_overbought_guard(),
        "e_tenkan": P.period("Tenkan-sen (conversion line) period in bars.", 9, minimum=1),
        "e_kijun": P.period("Kijun-sen (base line) period in bars.", 26, minimum=1),
        "e_senkou": P.period("Senkou Span B period in bars.", 52, minimum=1, maximum=1000),
        "e_displacement": P.period("Forward shift of the cloud in bars.", 26, minimum=0),
    }

    def warmup(self) -> int:
        return max(self.p.e_senkou, self.p.e_kijun) + self.p.e_displacement + 1

    def compute(self, bars: Bars) -> None:
        from mixbot.indicators import ichimoku, rsi  # lazy: keeps `mixbot validate` fast

        ich = ichimoku(
            bars.high,
            bars.low,
            bars.close,
            self.p.e_tenkan,
            self.p.e_kijun,
            self.p.e_senkou,
            self.p.e_displacement,
        )
        self._tenkan = ich.tenkan.tolist()
        self._kijun = ich.kijun.tolist()
        self._span_a = ich.senkou_a.tolist()
        self._span_b = ich.senkou_b.tolist()
        self._rsi = rsi(bars.close, self.p.e_rsi_period).tolist()
        self._close = bars.close.tolist()

    def should_enter(self, bars: Bars, i: int) -> bool:
        if i < 1:
            return False
        t, k, t0, k0 = self._tenkan[i], self._kijun[i], self._tenkan[i - 1], self._kijun[i - 1]
        if not (t > k and t0 <= k0):
            return False
        a, b = self._span_a[i], self._span_b[i]
        if a != a or b != b:  # cloud still warming up (Python's max() would drop a NaN)
            return False
        top = max(a, b)
        return self._close[i] > top and self._rsi[i] < self.p.e_rsi_overbought
