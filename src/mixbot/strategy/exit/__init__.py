"""Exit mixins. Each module registers its classes; add a new module's import here."""

from mixbot.strategy.exit import atr, fixed_ratio, rsi_bb, time_based, trailing  # noqa: F401
