"""Fixtures for the service-layer and supervisor tests: short BANKNIFTY 1-minute replays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixbot.paths import REPO_ROOT


def make_config(data_dir: Path, folder: Path, bot_id: str, to: str, **data: object) -> Path:
    """A copy of config/trading/0003.json as bot ``bot_id`` replaying 2019-01-01..``to``."""
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
    doc["bot_id"] = bot_id
    doc["data"].update(path=str(data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"), to=to, **data)
    doc.pop("logging", None)  # each bot logs under logs/<bot_id>/
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bot_id}.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with its own store (MIXBOT_DATABASE_URL) and logs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    monkeypatch.delenv("MIXBOT_CRASH_AT", raising=False)
    return tmp_path
