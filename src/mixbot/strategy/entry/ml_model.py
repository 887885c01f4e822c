"""The ML-model entry: BUY when the registered model says so with enough confidence."""

from __future__ import annotations

from typing import Any

from mixbot.strategy import ml_params
from mixbot.strategy.mixin import Bars, EntryMixin
from mixbot.strategy.registry import register


@register("entry")
class MLModelEntryMixin(EntryMixin):
    """Long when the bot's model gives BUY a probability of at least ``confidence_threshold``.

    Rule, on the CLOSE of bar i: ``P(BUY | window ending at i) >= confidence_threshold``,
    the probability being the mean of the model's ensemble (TCN + BiLSTM + attention on the
    feature set of :mod:`mixbot.ml.features`, trained by ``mixbot train`` on triple-barrier
    labels, Lopez de Prado 2018 ch. 3). Which ensemble predicts a bar, and why bars inside the
    first training span get no signal, is in :mod:`mixbot.ml.predictor`. ``sides`` ``"both"``:
    a SELL would open a short where shorts are allowed; this engine is long-only, so SELL only
    closes longs (through :class:`~mixbot.strategy.exit.ml_model.MLModelExitMixin`).
    """

    PARAMS = {
        **ml_params.shared(),
        "sides": {
            "enum": ["long", "both"],
            "default": "long",
            "description": "long: BUY opens longs; both: SELL would open shorts where allowed "
            "(not supported by this engine yet: SELL only closes longs).",
        },
    }

    #: ``mixbot lookahead`` compares the probabilities within this: LiteRT's batch-1 (live)
    #: and batch-256 (backtest) flatbuffers agree to about 1e-7
    signal_atol = 1e-5

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        self.model: Any = None

    def configure(self, cfg: Any) -> None:
        from mixbot.ml.predictor import predictor_for

        self.model = predictor_for(cfg, self.p.model, "strategy.entry_logic.params.model")

    def warmup(self) -> int:
        from mixbot.ml.features import warmup_bars

        return warmup_bars() + int(self.p.window)

    def compute(self, bars: Bars) -> None:
        self.model.compute(bars)

    def should_enter(self, bars: Bars, i: int) -> bool:
        p = self.model.proba(bars, i)
        return p is not None and bool(p[2] >= self.p.confidence_threshold)

    def signal_inputs(self, bars: Bars, i: int) -> dict[str, Any]:
        """The model's probabilities at bar ``i`` (``mixbot lookahead`` compares them)."""
        return {"proba": self.model.proba(bars, i)}
