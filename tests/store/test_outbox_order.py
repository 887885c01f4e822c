"""Event order on PostgreSQL: a transaction writing events waits for the one before it to
commit, so ``seq`` becomes visible in commit order and no consumer passes an event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from tests.store.conftest import _pg_schema_url

from mixbot.bus.events import make
from mixbot.store.db import open_engine
from mixbot.store.outbox import EventLog, write_events

HANG_GUARD_S = 30.0


@pytest.fixture()
def pg_url(pg_admin_engine: object) -> Iterator[str]:
    yield from _pg_schema_url(pg_admin_engine)


def test_event_writers_commit_in_seq_order(pg_url: str) -> None:
    engine = open_engine(pg_url)
    try:
        first = engine.connect()
        tx = first.begin()
        write_events(first, "a", "paper", [make("status", status="first")])  # takes the lock
        done: dict[str, object] = {}

        def second() -> None:
            with engine.begin() as c:
                write_events(c, "b", "paper", [make("status", status="second")])
            done["ok"] = True

        t = threading.Thread(target=second, daemon=True)
        t.start()
        deadline = time.monotonic() + HANG_GUARD_S
        with engine.connect() as watch:  # the second writer waits on the advisory lock
            q = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            while watch.execute(q).scalar() == 0:
                assert time.monotonic() < deadline, "the second writer never waited"
                time.sleep(0.01)
                watch.rollback()
        assert "ok" not in done
        tx.commit()
        first.close()
        t.join(HANG_GUARD_S)
        rows = EventLog(pg_url, engine=engine).read(0, 10)
        assert [r["payload"]["status"] for r in rows] == ["first", "second"]
    finally:
        engine.dispose()
