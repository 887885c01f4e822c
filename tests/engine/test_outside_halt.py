"""`mixbot panic` (or the GUI) halts a RUNNING bot through the store: the bot sees its status
``halted`` within seconds, takes no more decisions, stops after the bar and stays halted.

The replay is paced by a :class:`~mixbot.clock.GatedClock`: the bot gets exactly the bars the
test releases, so "it stopped early" does not depend on how fast the machine plays bars."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from mixbot.clock import GatedClock
from mixbot.config.model import BotConfig, build
from mixbot.config.validate import validate_file
from mixbot.engine.runner import Bot
from mixbot.feeds import replay
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


def paced_cfg(data_dir: Path, tmp_path: Path) -> BotConfig:
    """Config 0003 replaying BANKNIFTY 2019 H1 bar by bar on the test's gated clock."""
    return make_cfg(
        "0003.json",
        tmp_path,
        data={
            "path": str(data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt"),
            "data_source": "replay",
            "replay_as": "bars",
            "speed": 60,  # paced: each bar waits for the test's clock.release()
            "from": "2019-01-01",
            "to": "2019-06-28",  # ~45,000 bars: far longer than the tests let it run
        },
    )


def test_running_bot_stops_when_the_store_says_halted(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    clock = GatedClock()
    monkeypatch.setattr(replay, "SYSTEM_CLOCK", clock)  # the bot's ReplayFeed waits on it
    url = f"sqlite:///{tmp_path / 'halt.sqlite'}"
    cfg = paced_cfg(data_dir, tmp_path)
    bot = Bot(cfg, fresh=True, database_url=url, console_level="ERROR")
    t = threading.Thread(target=bot.run, daemon=True)
    t.start()
    released = 200
    clock.release(released)
    deadline = time.monotonic() + 60  # hang guard only
    while bot.built is None or bot.built.feed.bars_received < released:
        assert time.monotonic() < deadline and t.is_alive(), "the bot did not play the bars"
        time.sleep(0.05)
    outside = Store(url, cfg.bot_id, "paper", create=False)
    at_halt = outside.load_checkpoint()
    outside.set_status("halted")  # what mixbot panic does first
    while t.is_alive():  # one more bar at a time until the bot notices and stops
        assert time.monotonic() < deadline, "the bot did not stop"
        clock.release()
        released += 1
        t.join(timeout=0.05)
    row = outside.bot_row()
    last = outside.load_checkpoint()
    halts = [e for e in outside.events() if e["kind"] == "halt"]
    outside.close()
    assert row["status"] == "halted"
    assert bot.built is not None and bot.built.runtime.risk.state.halted
    assert at_halt is not None and last is not None
    assert at_halt["bar_index"] <= last["bar_index"] < released + 1  # never ran ahead
    assert bot.built.feed.bars_received <= released + 1  # and not to the end of the file
    assert any("halted from outside" in e["message"] for e in halts)
    # the halt is in the last checkpoint: a restarted bot stays halted...
    assert last["state"]["risk"]["halted"] is True


def test_a_halt_lasts_across_a_restart_until_the_operator_resumes(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixbot.service.bots import BotService

    test_running_bot_stops_when_the_store_says_halted(data_dir, tmp_path, monkeypatch)
    clock = GatedClock()
    monkeypatch.setattr(replay, "SYSTEM_CLOCK", clock)
    url = f"sqlite:///{tmp_path / 'halt.sqlite'}"
    cfg = paced_cfg(data_dir, tmp_path)
    before = Store(url, cfg.bot_id, "paper", create=False)
    ck = before.load_checkpoint()
    before.close()
    assert ck is not None
    bot = Bot(cfg, database_url=url, console_level="ERROR")  # resumes the stored session
    t = threading.Thread(target=bot.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 120  # hang guard only

    def past_checkpoint() -> bool:
        s = bot.built.runtime.strategy if bot.built is not None else None
        return s is not None and s.window.abs_index > ck["bar_index"] + 1

    while not past_checkpoint():  # warm-up bars, the restore, then live bars
        assert time.monotonic() < deadline and t.is_alive(), "the bot did not resume"
        clock.release()
        time.sleep(0.005)
    assert bot.built is not None
    assert bot.built.runtime.risk.state.halted  # still halted after the restart
    svc = BotService(database_url=url)
    try:
        res = svc.send(cfg.source_file, "resume", user="ops")
        while not bot.controls.unhalt and bot.built.runtime.risk.state.halted:
            assert time.monotonic() < deadline, "the bot never took the resume"
            time.sleep(0.05)
        while bot.built.runtime.risk.state.halted:  # cleared on the next bar
            assert time.monotonic() < deadline, "the halt was not cleared"
            clock.release()
            time.sleep(0.02)
    finally:
        svc.close()
        bot.stop()
        clock.release(5)
        t.join(30)
    store = Store(url, cfg.bot_id, "paper", create=False)
    cleared = store.events("halt_cleared")
    store.close()
    assert res.id > 0 and cleared and "halted from outside" in cleared[0]["message"]
