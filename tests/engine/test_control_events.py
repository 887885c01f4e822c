"""Timed bus events of the bot's control thread: token_expiring once per token, periodic status."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from mixbot.engine.control import TOKEN_WARN_S, Controls, ControlThread
from mixbot.store.outbox import EventLog
from mixbot.store.repository import Store
from mixbot.venues.upstox.auth import IST, current_token_expiry


class Wall:
    """A wall clock the test sets."""

    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


def _thread(
    tmp_path: Path, wall: Wall, status_s: float = 3600.0, engine_idle_s: Any = None
) -> tuple[ControlThread, str]:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = Store(url, "b1", "live")
    store.register("hash", "b1.json")
    ct = ControlThread(
        store,
        Controls(),
        lambda: None,
        tmp_path / "bell",
        logging.getLogger("test"),
        token_expiry=("upstox", lambda: current_token_expiry(wall())),
        status_s=status_s,
        wall=wall,
        engine_idle_s=engine_idle_s,
    )
    return ct, url


def _types(url: str) -> list[str]:
    return [e["type"] for e in EventLog(url).read(bot_ids=["b1"])]


def test_upstox_tokens_die_at_the_next_0330_ist() -> None:
    at = dt.datetime(2026, 12, 2, 3, 0, tzinfo=IST)
    assert current_token_expiry(at) == dt.datetime(2026, 12, 2, 3, 30, tzinfo=IST)
    at = dt.datetime(2026, 12, 2, 9, 15, tzinfo=IST)
    assert current_token_expiry(at) == dt.datetime(2026, 12, 3, 3, 30, tzinfo=IST)


def test_token_expiring_is_emitted_once_within_30_minutes(tmp_path: Path) -> None:
    wall = Wall(dt.datetime(2026, 12, 2, 15, 0, tzinfo=IST))
    ct, url = _thread(tmp_path, wall)
    ct.timed_events(0.0)
    assert "token_expiring" not in _types(url)  # 12 h 30 min left
    wall.t = dt.datetime(2026, 12, 3, 3, 30, tzinfo=IST) - dt.timedelta(seconds=TOKEN_WARN_S - 1)
    ct.timed_events(5.0)
    ct.timed_events(10.0)
    events = [e for e in EventLog(url).read(bot_ids=["b1"]) if e["type"] == "token_expiring"]
    assert len(events) == 1
    assert events[0]["payload"]["venue"] == "upstox"
    assert events[0]["payload"]["expires_at"].startswith("2026-12-03T03:30:00+05:30")
    assert events[0]["payload"]["minutes_left"] == 29


def test_a_restarted_bot_does_not_warn_twice_for_one_token(tmp_path: Path) -> None:
    wall = Wall(dt.datetime(2026, 12, 3, 3, 10, tzinfo=IST))
    ct, url = _thread(tmp_path, wall)
    ct.timed_events(0.0)
    ct2, _ = _thread(tmp_path, wall)  # the same bot after a restart: same idempotency key
    ct2.timed_events(0.0)
    assert _types(url).count("token_expiring") == 1


def test_status_every_period(tmp_path: Path) -> None:
    wall = Wall(dt.datetime(2026, 12, 2, 10, 0, tzinfo=IST))
    ct, url = _thread(tmp_path, wall, status_s=60.0)
    ct.timed_events(0.0)
    ct.timed_events(59.0)
    assert "status" not in _types(url)
    ct.timed_events(60.0)
    ct.timed_events(100.0)
    ct.timed_events(121.0)
    status = [e for e in EventLog(url).read(bot_ids=["b1"]) if e["type"] == "status"]
    assert len(status) == 2
    assert status[0]["payload"]["status"] == "running"
    assert status[0]["payload"]["positions"] == {}


def test_the_upstox_venue_registers_its_token_expiry() -> None:
    from mixbot.venues import registry

    registry.load_builtin()
    spec = registry.get("upstox")
    assert spec.token_expiry is not None
    assert spec.token_expiry() == current_token_expiry()
    assert registry.get("paper").token_expiry is None


def _heartbeat(url: str) -> dt.datetime:
    return Store(url, "b1", "live").bot_row()["last_heartbeat"]


def test_the_heartbeat_is_the_engine_loops_last_turn(tmp_path: Path, caplog: Any) -> None:
    """A process whose engine loop is stuck must age like a dead one: the heartbeat is the
    time of the loop's last turn, not the time the control thread wrote it."""
    wall = Wall(dt.datetime(2026, 12, 2, 10, 0, 0, tzinfo=dt.UTC))
    idle: list[float | None] = [None]
    ct, url = _thread(tmp_path, wall, engine_idle_s=lambda: idle[0])
    ct.beat()  # before the first turn: unknown, so "now" (the store's own clock)
    assert (
        abs((dt.datetime.now(dt.UTC).replace(tzinfo=None) - _heartbeat(url)).total_seconds()) < 60
    )
    idle[0] = 1.5  # turning over normally
    ct.beat()
    assert _heartbeat(url) == dt.datetime(2026, 12, 2, 9, 59, 58, 500000)
    with caplog.at_level("WARNING"):
        wall.t += dt.timedelta(seconds=40)
        idle[0] = 41.5  # stuck since the last turn: the beat stays there
        ct.beat()
        wall.t += dt.timedelta(seconds=10)
        idle[0] = 51.5
        ct.beat()
    assert _heartbeat(url) == dt.datetime(2026, 12, 2, 9, 59, 58, 500000)
    stalls = [r for r in caplog.records if "has not turned over" in r.getMessage()]
    assert len(stalls) == 1  # warned once per stall
