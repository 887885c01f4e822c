"""`mixbot panic` (or the GUI) halts a RUNNING bot through the store: the bot sees its status
``halted`` within seconds, takes no more decisions, stops after the bar and stays halted."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from mixbot.config.model import BotConfig, build
from mixbot.config.validate import validate_file
from mixbot.engine.runner import Bot
from mixbot.paths import REPO_ROOT
from mixbot.store.repository import Store


def make_cfg(name: str, tmp_path: Path, data: dict) -> BotConfig:  # type: ignore[type-arg]
    doc = json.loads((REPO_ROOT / "config" / "trading" / name).read_text())
    doc["data"].update(data)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=json.dumps(doc))
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def test_running_bot_stops_when_the_store_says_halted(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'halt.sqlite'}"
    cfg = make_cfg(
        "0003.json",
        tmp_path,
        data={
            "path": str(data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt"),
            "data_source": "replay",
            "replay_as": "bars",
            "speed": 0,
            "from": "2019-01-01",
            "to": "2019-06-28",  # ~45,000 bars: far longer than the test lets it run
        },
    )
    bot = Bot(cfg, fresh=True, database_url=url, console_level="ERROR")
    t = threading.Thread(target=bot.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while (bot.store is None or bot.state != "running") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    outside = Store(url, cfg.bot_id, "paper", create=False)
    outside.set_status("halted")  # what mixbot panic does first
    t.join(timeout=60)
    assert not t.is_alive(), "the bot did not stop"
    row = outside.bot_row()
    last = outside.load_checkpoint()
    halts = [e for e in outside.events() if e["kind"] == "halt"]
    outside.close()
    assert row["status"] == "halted"
    assert bot.built is not None and bot.built.runtime.risk.state.halted
    assert last is not None and last["bar_index"] < 40_000  # stopped long before the end
    assert any("halted from outside" in e["message"] for e in halts)
