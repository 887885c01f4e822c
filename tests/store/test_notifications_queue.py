"""The notification queue: a dead destination with a long backlog starves no other one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mixbot.store.notifications import NotificationQueue, Outgoing
from mixbot.store.outbox import EventLog


def _row(seq: int, dest: str) -> Outgoing:
    return Outgoing(seq, "b", "status", "telegram", dest, False, f"s{seq}", f"t{seq}", f"h{seq}")


def test_a_dead_destination_starves_no_other(tmp_path: Path) -> None:
    q = NotificationQueue(EventLog(f"sqlite:///{tmp_path / 'q.sqlite'}"))
    now = dt.datetime(2026, 12, 3, 10, 0)
    q.enqueue("notify", 1200, [_row(i, "111") for i in range(1, 1201)], now)
    first = q.due(now)[0]
    assert first["dest"] == "111" and first["event_seq"] == 1
    q.mark_failed(
        first["id"], "Forbidden: bot was blocked by the user", now + dt.timedelta(hours=1)
    )
    q.enqueue("notify", 1201, [_row(1201, "222")], now)
    due = q.due(now)
    assert [(r["dest"], r["event_seq"]) for r in due] == [("222", 1201)]  # 111 waits, in order
    later = q.due(now + dt.timedelta(hours=2))
    assert [(r["dest"], r["event_seq"]) for r in later] == [("111", 1), ("222", 1201)]
