"""Parameter schemas shared by the two ML mixins (one definition each)."""

from __future__ import annotations

from typing import Any

MODEL = {
    "type": "string",
    "pattern": "^(latest|v[0-9]{4,})$",
    "default": "latest",
    "description": "Registered model version of this bot (models/<bot_id>/<version>, e.g. "
    'v0003) or "latest"; `mixbot models CONFIG` lists them, `mixbot train CONFIG` makes one.',
}
THRESHOLD = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": 1,
    "default": 0.9,
    "description": "Act only when the model's probability of the class (0-1) is at least this.",
}
WINDOW = {
    "type": "integer",
    "minimum": 8,
    "maximum": 512,
    "default": 32,
    "description": "Bars per model input window (training parameter; must match the model).",
}
HORIZON = {
    "type": "integer",
    "minimum": 2,
    "maximum": 500,
    "default": 16,
    "description": "Triple-barrier label horizon in bars (training parameter; must match the "
    "model); the ML exit also closes a position held this many bars.",
}


def shared() -> dict[str, dict[str, Any]]:
    """``model``, ``confidence_threshold``, ``window``, ``horizon``."""
    return {
        "model": dict(MODEL),
        "confidence_threshold": dict(THRESHOLD),
        "window": dict(WINDOW),
        "horizon": dict(HORIZON),
    }
