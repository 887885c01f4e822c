"""Helpers of the OpenAlgo live tests: the example config as a bot on the simulator, a
bot run in a thread, and the stepping loop that plays one bar per engine turn."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from mixbot.config.model import build
from mixbot.config.validate import validate_file
from mixbot.paths import REPO_ROOT

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
EXAMPLE = REPO_ROOT / "config/trading/live/openalgo_banknifty.json"


def config(tmp_path: Path, name: str, doc: dict[str, Any], env: dict[str, str]) -> Any:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=path.read_text(), env=env)
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def capture_feeds(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every OpenAlgo feed the engine builds from now on is appended to the returned list."""
    from mixbot.venues.openalgo import wiring

    feeds: list[Any] = []
    real = wiring.build_feed

    def spy(*a: Any) -> Any:
        out = real(*a)
        if out is not None:
            feeds.append(out[0])
        return out

    monkeypatch.setattr(wiring, "build_feed", spy)
    return feeds


class BotThread(threading.Thread):
    """Runs ``Bot(cfg, fresh=fresh).run()``; :attr:`result` / :attr:`error` after join."""

    def __init__(self, cfg: Any, fresh: bool = True) -> None:
        super().__init__(daemon=True)
        from mixbot.engine.runner import Bot

        self.bot = Bot(cfg, fresh=fresh)
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.bot.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def play(sim: Any, feeds: list[Any], bars: int | None = None, timeout: float = 120.0) -> None:
    """Step ``sim`` one bar at a time, each only once the bot's feed has processed the one
    before (so every order is sent while the exchange stands at that bar's close); ``bars``
    bar ends, or to the end of the replay. Waits are hang guards, never timing."""
    sim.wait_subscribed(timeout)
    assert feeds, "the bot built no OpenAlgo feed"
    feed = feeds[-1]
    done = 0
    while not sim.finished and (bars is None or done < bars):
        played = sim.step(1, timeout)
        done += 1
        now = sim.replay.now_ms
        assert feed.wait_caught_up(now, timeout), f"the bot never processed bar end {played}"
