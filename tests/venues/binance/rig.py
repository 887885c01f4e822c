"""Helpers of the Binance venue tests: example configs validated and built."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mixbot.config.model import BotConfig, build
from mixbot.config.validate import validate_file
from mixbot.paths import REPO_ROOT

PAPER_EXAMPLE = REPO_ROOT / "config/trading/binance_paper_btcusdt.json"


def make_cfg(doc: dict[str, Any], path: Path, env: dict[str, str] | None = None) -> BotConfig:
    """Validate ``doc`` (written to ``path``) and build it; fails the test on problems."""
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=path.read_text(), env=env or {})
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def paper_doc(**sections: dict[str, Any]) -> dict[str, Any]:
    """The binance_paper example with ``sections`` merged in."""
    doc: dict[str, Any] = json.loads(PAPER_EXAMPLE.read_text())
    for sec, fields in sections.items():
        doc.setdefault(sec, {}).update(fields)
    return doc


def wait_until(pred: Callable[[], Any], timeout: float = 30.0) -> bool:
    """Poll ``pred`` until true (a hang guard of ``timeout`` wall seconds, never a delay
    the test relies on)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return bool(pred())
