"""The ML-model exit: SELL signal, ATR stop / target (adapted per symbol), horizon."""

from __future__ import annotations

from typing import Any

from mixbot.strategy import ml_params
from mixbot.strategy.exit.atr import ATRExitMixin
from mixbot.strategy.mixin import Bars, ExitMixin, PositionState
from mixbot.strategy.registry import register


@register("exit")
class MLModelExitMixin(ExitMixin):
    """Exit when the model's SELL probability passes the threshold, or at the ATR barriers.

    Rule, on the CLOSE of bar i after entry (fills at the next bar's open), first match wins:
    ``close[i] <= entry - sl * ATR_entry`` -> ``stop_loss``; ``close[i] >= entry + tp *
    ATR_entry`` -> ``take_profit``; ``P(SELL) >= confidence_threshold`` -> ``signal``; held
    ``horizon`` bars -> ``time``. ATR is Wilder's ATR(``x_atr_period``) frozen at the entry
    bar (TA-Lib). ``sl`` and ``tp`` are the model's current multipliers
    (:attr:`mixbot.ml.registry.ModelRecord.stops`: what ``mixbot adapt --write`` last set
    from the bot's own trades, else the ``x_sl_multiplier`` / ``x_tp_multiplier`` the model
    was trained with), so the exit is the triple barrier the labels were made with.
    """

    PARAMS = {
        **ml_params.shared(),
        # the ATR exit's params (one definition), described for their role here
        "x_atr_period": ATRExitMixin.PARAMS["x_atr_period"]
        | {"description": "ATR period in bars (labels and exit)."},
        "x_sl_multiplier": ATRExitMixin.PARAMS["x_sl_multiplier"]
        | {
            "description": "Starting stop distance in ATRs below the entry (labels' lower "
            "barrier); `mixbot adapt` moves the model's copy."
        },
        "x_tp_multiplier": ATRExitMixin.PARAMS["x_tp_multiplier"]
        | {
            "description": "Starting target distance in ATRs above the entry (labels' upper "
            "barrier); `mixbot adapt` moves the model's copy."
        },
    }

    #: ``mixbot lookahead`` compares the probabilities within this: LiteRT's batch-1 (live)
    #: and batch-256 (backtest) flatbuffers agree to about 1e-7
    signal_atol = 1e-5

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        self.model: Any = None
        self.sl = float(self.p.x_sl_multiplier)
        self.tp = float(self.p.x_tp_multiplier)

    def configure(self, cfg: Any) -> None:
        from mixbot.ml.predictor import predictor_for

        self.model = predictor_for(cfg, self.p.model, "strategy.exit_logic.params.model")
        stops = self.model.rec.stops
        self.sl = float(stops["sl_multiplier"])
        self.tp = float(stops["tp_multiplier"])

    def warmup(self) -> int:
        from mixbot.ml.features import warmup_bars

        return max(warmup_bars() + int(self.p.window), self.p.x_atr_period + 1)

    def compute(self, bars: Bars) -> None:
        from mixbot.indicators import atr  # lazy: keeps `mixbot validate` fast

        self.model.compute(bars)
        self._atr = atr(bars.high, bars.low, bars.close, self.p.x_atr_period).tolist()
        self._close = bars.close.tolist()

    def on_entry(self, bars: Bars, i: int, state: PositionState) -> None:
        state.entry_atr = self._atr[i]

    def should_exit(self, bars: Bars, i: int, state: PositionState) -> str | None:
        a0 = state.entry_atr
        if a0 is None or a0 != a0:
            a0 = self._atr[i]
            state.entry_atr = a0
        close = self._close[i]
        if a0 == a0:
            if close <= state.entry_price - self.sl * a0:
                return "stop_loss"
            if close >= state.entry_price + self.tp * a0:
                return "take_profit"
        p = self.model.proba(bars, i)
        if p is not None and p[0] >= self.p.confidence_threshold:
            return "signal"
        if bars.offset + i - state.entry_bar >= int(self.p.horizon):
            return "time"
        return None

    def signal_inputs(self, bars: Bars, i: int) -> dict[str, Any]:
        """The model's probabilities at bar ``i`` (``mixbot lookahead`` compares them)."""
        return {"proba": self.model.proba(bars, i)}
