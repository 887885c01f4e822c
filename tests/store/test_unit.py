"""A unit of work commits a bar's writes in one transaction; a re-processed bar after a
restart (rows stored already) falls back to one write at a time, each conflict handled."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mixbot.store import models as m
from mixbot.store.repository import Store

T = dt.datetime(2019, 1, 1, 4, 0)
TRADE = {
    "symbol": "X",
    "side": "long",
    "qty": 10.0,
    "entry_time": T,
    "exit_time": T,
    "entry_price": 100.0,
    "exit_price": 101.0,
    "pnl_gross": 10.0,
    "charges": 1.0,
    "pnl_net": 9.0,
    "exit_reason": "signal",
    "bars_held": 1,
}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(f"sqlite:///{tmp_path / 's.sqlite'}", "u", "paper")
    s.register("h", "cfg.json")
    yield s
    s.close()


def _intent(s: Store, tag: str) -> Any:
    return s.intent_write(
        tag,
        symbol="X",
        role="entry",
        side="BUY",
        order_type="Market",
        qty=10,
        price=None,
        bar_index=1,
        bar_time=T,
    )


def _fill(s: Store, tag: str) -> Any:
    fill = {"side": "BUY", "qty": 10.0, "price": 100.0, "commission": 1.0, "fill_time": T}
    return s.fill_write(tag, 1, **fill, status=("Completed", "OID-1"))


def test_one_unit_is_one_transaction(store: Store) -> None:
    commits: list[int] = []
    from sqlalchemy import event

    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    writes = [_intent(store, "u:1:entry"), _fill(store, "u:1:entry")]
    writes.append(store.position_write("X", 10.0, 100.0))
    store.commit(writes)
    assert len(commits) == 1 and all(w.ok for w in writes)
    row = store.orders()[0]
    assert (row["status"], row["qty_filled"], row["broker_order_id"]) == (
        "Completed",
        10.0,
        "OID-1",
    )
    assert store.positions()[0]["qty"] == 10.0


def test_a_reprocessed_bar_commits_what_is_new_and_skips_what_is_stored(store: Store) -> None:
    store.commit([_intent(store, "u:1:entry")])
    store.record_fill(
        "u:1:entry", 1, side="BUY", qty=10.0, price=100.0, commission=1.0, fill_time=T
    )
    # the bar again after a restart: the intent and the fill exist, the rest is new
    again = [_intent(store, "u:1:entry"), _fill(store, "u:1:entry")]
    new = [store.position_write("X", 0.0, 0.0), store.trade_write("u:1:entry", **TRADE)]
    store.commit([*again, *new])
    assert [w.ok for w in again + new] == [False, False, True, True]
    assert len(store.fills()) == 1 and len(store.orders()) == 1
    assert store.orders()[0]["status"] == "Completed"  # a stored fill still moves the status
    assert [t["entry_tag"] for t in store.trades()] == ["u:1:entry"]
    with store.engine.connect() as c:
        n = c.execute(select(func.count()).select_from(m.positions)).scalar()
    assert n == 1 and store.positions() == []


def test_a_database_error_that_is_no_conflict_is_a_store_error(store: Store) -> None:
    from mixbot.errors import StoreError
    from mixbot.store.unit import Write

    def broken(c: Any) -> None:
        c.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")

    w = store.position_write("X", 5.0, 100.0)
    with pytest.raises(StoreError):
        store.commit([w, Write(broken)])
    assert store.positions() == []  # the unit rolled back as a whole


def test_changes_of_one_order_join_one_status_write(store: Store) -> None:
    """Submitted then Accepted (a bar's usual pair) read and update the order's row once;
    the history keeps both, a repeated status is skipped, a final one stays final."""
    store.commit([_intent(store, "u:1:entry")])
    t1, t2, t3 = T, T + dt.timedelta(seconds=1), T + dt.timedelta(seconds=2)
    w = store.status_write("u:1:entry", "Submitted", None, t1)
    w.add("Submitted", None, t1)
    w.add("Accepted", "OID-9", t2)
    w.add("Canceled", None, t3)
    w.add("Accepted", None, t3)  # after a final status: ignored
    statements: list[str] = []
    from sqlalchemy import event

    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    store.commit([w])
    # the order's row: one read, one update; then its audit row (head bump, insert, head)
    assert [s.split()[0] for s in statements] == ["SELECT", "UPDATE", "UPDATE", "INSERT", "UPDATE"]
    row = store.orders()[0]
    assert [h[0] for h in row["status_history"]] == ["intent", "Submitted", "Accepted", "Canceled"]
    assert (row["status"], row["broker_order_id"]) == ("Canceled", "OID-9")
