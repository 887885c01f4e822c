"""Entry mixins. Each module registers its classes; add a new module's import here."""

from mixbot.strategy.entry import ml_model, rsi_bb, rsi_ichimoku, rsi_supertrend  # noqa: F401
