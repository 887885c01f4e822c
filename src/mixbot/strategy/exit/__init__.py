"""Exit mixins. Each module registers its classes; add a new module's import here."""

from mixbot.strategy.exit import (  # noqa: F401
    atr,
    fixed_ratio,
    ml_model,
    rsi_bb,
    time_based,
    trailing,
)
