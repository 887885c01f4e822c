"""Parameter-schema builders shared by the mixins (one definition of each kind of param).

Each returns a JSON Schema property (Draft 2020-12) with a default and a description
stating the unit, as :func:`mixbot.strategy.registry.register` requires.
"""

from __future__ import annotations

from typing import Any


def period(description: str, default: int, minimum: int = 2, maximum: int = 500) -> dict[str, Any]:
    """An indicator period in bars."""
    return {
        "type": "integer",
        "minimum": minimum,
        "maximum": maximum,
        "default": default,
        "description": description,
    }


def rsi_level(description: str, default: float) -> dict[str, Any]:
    """An RSI level on its 0-100 scale."""
    return {
        "type": "number",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 100,
        "default": default,
        "description": description,
    }


def positive(description: str, default: float, maximum: float) -> dict[str, Any]:
    """A positive number (a multiplier, a band width, a percent), at most ``maximum``."""
    return {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": maximum,
        "default": default,
        "description": description,
    }


def volume_filter(default_ratio: float) -> dict[str, dict[str, Any]]:
    """``e_vol_ma_period`` and ``e_min_volume_ratio``: volume must exceed ratio x its SMA."""
    return {
        "e_vol_ma_period": period("Volume moving-average period in bars.", 20, minimum=1),
        "e_min_volume_ratio": {
            "type": "number",
            "minimum": 0,
            "maximum": 100,
            "default": default_ratio,
            "description": "Volume must exceed this multiple of its average "
            "(1.5 = 150 %; 0 = no volume filter).",
        },
    }


def rsi_overbought_guard() -> dict[str, dict[str, Any]]:
    """``e_rsi_period`` and ``e_rsi_overbought``: no entry while RSI is at or above the level."""
    return {
        "e_rsi_period": period("RSI period in bars (Wilder RSI, TA-Lib).", 14),
        "e_rsi_overbought": rsi_level("No entry when RSI (0-100) is at or above this level.", 70.0),
    }


def bollinger(prefix: str) -> dict[str, dict[str, Any]]:
    """``<prefix>_bb_period`` and ``<prefix>_bb_dev`` (SMA middle band, population std, TA-Lib)."""
    return {
        f"{prefix}_bb_period": period("Bollinger Bands period in bars (SMA middle band).", 20),
        f"{prefix}_bb_dev": positive(
            "Bollinger Bands width in standard deviations (population std, TA-Lib).", 2.0, 10
        ),
    }
