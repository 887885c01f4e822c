"""Fixtures of the config tests: a minimal valid config that needs no data folder or token."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "trading"
#: Dummy values for the variables the live example needs (never real secrets).
LIVE_ENV = {
    "UPSTOX_ACCESS_TOKEN": "dummy-upstox-token",
    "TELEGRAM_BOT_TOKEN": "dummy-telegram-token",
    "TELEGRAM_CHAT_ID": "dummy-chat-id",
}

MINIMAL: dict[str, Any] = {
    "broker": {"type": "paper"},
    "trading": {"symbol": "RELIANCE.NS"},
    "data": {"data_source": "yahoo", "interval": "1d"},
    "strategy": {
        "entry_logic": {"name": "RSIBBEntryMixin", "params": {"e_rsi_period": 10}},
        "exit_logic": {"name": "ATRExitMixin"},
    },
}


@pytest.fixture
def minimal() -> dict[str, Any]:
    """A fresh copy of a valid config: paper broker, Yahoo daily bars (no files, no secrets)."""
    return copy.deepcopy(MINIMAL)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """``write_config(doc_or_text, name="bot.json")`` -> path of the file in tmp_path."""

    def write(doc: Any, name: str = "bot.json") -> Path:
        path = tmp_path / name
        text = doc if isinstance(doc, str) else json.dumps(doc, indent=2)
        path.write_text(text, encoding="utf-8")
        return path

    return write
