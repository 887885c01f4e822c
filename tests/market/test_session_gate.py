"""A bot on a live feed that starts on a day without an NSE session says so and waits for the
next session; driven by a clock the test controls (no wall-clock sleeps)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mixbot.config.model import BotConfig, build
from mixbot.config.validate import validate_file
from mixbot.engine.runner import Bot, session_clock
from mixbot.errors import MixbotError
from mixbot.market import (
    NSE,
    CalendarCoverageError,
    Session,
    WallClock,
    calendar_for,
    wait_for_session,
)
from mixbot.paths import REPO_ROOT
from mixbot.store.outbox import EventLog
from mixbot.store.repository import Store

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


class FakeClock:
    """Time moves only when the code under test sleeps; ``hook`` runs after each sleep."""

    def __init__(self, start: dt.datetime, hook: Callable[[], None] | None = None) -> None:
        self.t = start
        self.slept: list[float] = []
        self.hook = hook

    def now(self) -> dt.datetime:
        return self.t

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        self.slept.append(seconds)
        self.t += dt.timedelta(seconds=seconds)
        if self.hook is not None:
            self.hook()
        return stop.is_set()


def _gate(
    start: dt.datetime, stop: threading.Event | None = None
) -> tuple[Session | None, FakeClock, list[str]]:
    said: list[str] = []
    clock = FakeClock(start)
    got = wait_for_session(NSE, clock, stop or threading.Event(), said.append)
    return got, clock, said


def test_holiday_start_waits_until_before_the_next_session() -> None:
    # Friday 2024-01-26 (Republic Day), 10:00 IST -> Monday 2024-01-29, 15 min before 09:15
    got, clock, said = _gate(dt.datetime(2024, 1, 26, 10, 0, tzinfo=IST))
    assert got is not None and got.day == dt.date(2024, 1, 29)
    assert clock.t == dt.datetime(2024, 1, 29, 9, 0, tzinfo=IST)
    assert max(clock.slept) <= 60.0  # re-reads the clock at least once a minute
    assert len(said) == 1
    assert "no trading session on 2024-01-26 (an exchange holiday)" in said[0]
    assert "2024-01-29 09:15-15:30 Asia/Kolkata" in said[0]


def test_weekend_start_says_weekend_and_a_session_day_does_not_wait() -> None:
    got, clock, said = _gate(dt.datetime(2024, 1, 27, 8, 0, tzinfo=IST))  # Saturday
    assert "(a weekend day)" in said[0] and clock.t == dt.datetime(2024, 1, 29, 9, 0, tzinfo=IST)
    for start in (
        dt.datetime(2024, 1, 29, 7, 0, tzinfo=IST),  # Monday before the open
        dt.datetime(2024, 1, 29, 20, 0, tzinfo=IST),  # Monday after the close
        dt.datetime(2023, 11, 12, 10, 0, tzinfo=IST),  # Sunday with a Muhurat session
    ):
        got, clock, said = _gate(start)
        assert got is None and clock.slept == [] and said == []


def test_the_guard_refuses_a_day_past_the_calendar() -> None:
    with pytest.raises(CalendarCoverageError, match="pandas_market_calendars"):
        _gate(dt.datetime(2099, 1, 5, 10, 0, tzinfo=IST))


def _cfg(tmp_path: Path, data_dir: Path) -> BotConfig:
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
    doc["data"].update(
        {
            "path": str(data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt"),
            "from": "2019-01-01",
            "to": "2019-01-01",
            "lookback_bars": 50,
        }
    )
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=json.dumps(doc))
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def test_bot_started_on_a_holiday_waits_then_runs(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'gate.sqlite'}"
    cfg = _cfg(tmp_path, data_dir)
    clock = FakeClock(dt.datetime(2024, 1, 26, 10, 0, tzinfo=IST))
    seen: list[str] = []
    bot = Bot(cfg, fresh=True, database_url=url, console_level="ERROR", clock=clock)
    clock.hook = lambda: seen.append(bot.state)
    result = bot.run()
    assert result.bars > 300  # the replayed session ran after the wait
    assert clock.t == dt.datetime(2024, 1, 29, 9, 0, tzinfo=IST)
    assert set(seen) == {"waiting"}
    statuses = [e["payload"] for e in EventLog(url).read(bot_ids=[cfg.bot_id], types=["status"])]
    assert statuses[0]["status"] == "waiting"
    assert statuses[0]["session_day"] == "2024-01-29"
    assert statuses[0]["next_session"] == "2024-01-29T03:45:00+00:00"
    assert statuses[1]["status"] == "running"
    outside = Store(url, cfg.bot_id, "paper", create=False)
    assert outside.bot_row()["status"] == "finished"
    outside.close()
    log = (tmp_path / "logs" / "0003" / "bot.log").read_text()
    assert "no trading session on 2024-01-26 (an exchange holiday)" in log


def test_bot_stopped_while_waiting_stops_cleanly(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'gate.sqlite'}"
    cfg = _cfg(tmp_path, data_dir)
    clock = FakeClock(dt.datetime(2024, 1, 27, 10, 0, tzinfo=IST))
    bot = Bot(cfg, fresh=True, database_url=url, console_level="ERROR", clock=clock)
    clock.hook = bot.stop  # the operator stops it during the first minute of waiting
    with pytest.raises(MixbotError, match="stopped while waiting"):
        bot.run()
    assert len(clock.slept) == 1
    outside = Store(url, cfg.bot_id, "paper", create=False)
    assert outside.bot_row()["status"] == "stopped"
    assert outside.equity() == []
    outside.close()


def test_which_bots_wait_on_the_wall_clock(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay = _cfg(tmp_path, data_dir)
    assert session_clock(replay, "paper") is None  # a file replay runs on the data's time
    live = dataclasses.replace(replay, data=dataclasses.replace(replay.data, data_source="upstox"))
    monkeypatch.delenv("MIXBOT_UPSTOX_API", raising=False)
    assert isinstance(session_clock(live, "live"), WallClock)
    assert session_clock(live, "backtest") is None
    monkeypatch.setenv("MIXBOT_UPSTOX_API", "https://127.0.0.1:9999")  # the simulator's clock
    assert session_clock(live, "live") is None


def test_daily_summary_days_are_the_sessions_that_closed(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'days.sqlite'}"
    cfg = _cfg(tmp_path, data_dir)
    cfg = dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, date_from="2019-01-01", date_to="2019-01-04")
    )
    Bot(cfg, fresh=True, database_url=url, console_level="ERROR").run()
    days = [
        e["payload"]["day"]
        for e in EventLog(url).read(bot_ids=[cfg.bot_id], types=["daily_summary"])
    ]
    cal = calendar_for(NSE)
    assert cal is not None
    sessions = [s.day.isoformat() for s in cal.sessions(dt.date(2019, 1, 1), dt.date(2019, 1, 4))]
    assert days == sessions == ["2019-01-01", "2019-01-02", "2019-01-03", "2019-01-04"]


def test_a_killed_waiting_bot_shows_as_killed(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixbot.service.status import from_store

    cfg = _cfg(tmp_path, data_dir)
    store = Store(f"sqlite:///{tmp_path / 'k.sqlite'}", cfg.bot_id, "paper")
    store.register("hash", str(cfg.source_file))
    store.set_status("waiting")
    store.heartbeat()
    status = from_store(cfg, store, holder_pid=None).status  # no process holds the lock
    store.close()
    assert status.startswith("waiting? no process holds the bot's lock")
