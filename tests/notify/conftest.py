"""Fixtures of the notification tests: a replayed session on real data with alerts on."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.notify.bot_api import TOKEN, BotApiServer

from mixbot.paths import REPO_ROOT
from mixbot.store.crashtest import run_bot

BOT = "alerts1"


@pytest.fixture()
def replay(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[dict[str, Any]], tuple[Path, str]]:
    """``replay(notifications)``: run ``mixbot run`` on a replayed 1-minute BANKNIFTY session
    (2019-01-01 to 2019-01-04, config 0003) with that ``notifications`` section; returns
    (config path, store URL)."""

    def go(notifications: dict[str, Any]) -> tuple[Path, str]:
        doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
        doc["bot_id"] = BOT
        doc["data"].update(
            path=str(data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"), to="2019-01-04"
        )
        doc["notifications"] = notifications
        cfg = tmp_path / f"{BOT}.json"
        cfg.write_text(json.dumps(doc))
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
        monkeypatch.chdir(tmp_path)
        assert run_bot(cfg, url, fresh=True, cwd=tmp_path) == 0
        return cfg, url

    return go


@pytest.fixture()
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[BotApiServer]:
    """The local Bot API server, with MIXBOT_TELEGRAM_API and TELEGRAM_BOT_TOKEN set for it."""
    server = BotApiServer()
    monkeypatch.setenv("MIXBOT_TELEGRAM_API", server.start())
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    yield server
    server.stop()
