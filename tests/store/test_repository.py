"""The store's repository on SQLite and PostgreSQL: lifecycle, idempotent writes, checkpoints,
and bots sharing one database without seeing each other's rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from mixbot.errors import StoreError
from mixbot.store import models as m
from mixbot.store.db import current_revision, head_revision
from mixbot.store.repository import Store

T0 = dt.datetime(2024, 1, 2, 3, 45)
MakeStore = Callable[..., Store]


@pytest.fixture
def make_store(store_url: str) -> Iterator[MakeStore]:
    """``make_store(bot_id="b1", mode="paper", register=True)``: a Store on the test database;
    all are closed at the end."""
    made: list[Store] = []

    def make(bot_id: str = "b1", mode: str = "paper", register: bool = True) -> Store:
        s = Store(store_url, bot_id, mode)
        made.append(s)
        if register:
            s.register("hash-1", "configs/b1.json")
        return s

    yield make
    for s in made:
        s.close()


def intent(s: Store, tag: str, **kw: Any) -> bool:
    args: dict[str, Any] = {
        "symbol": "RELIANCE",
        "role": "entry",
        "side": "BUY",
        "order_type": "Market",
        "qty": 10.0,
        "price": None,
        "bar_index": 5,
        "bar_time": T0,
    }
    args.update(kw)
    return s.record_intent(tag, **args)


def trade_fields(**kw: Any) -> dict[str, Any]:
    f: dict[str, Any] = {
        "symbol": "RELIANCE",
        "side": "long",
        "qty": 10.0,
        "entry_time": T0,
        "exit_time": T0 + dt.timedelta(minutes=30),
        "entry_price": 2500.5,
        "exit_price": 2510.25,
        "pnl_gross": 97.5,
        "charges": 12.34,
        "pnl_net": 85.16,
        "exit_reason": "take_profit",
        "bars_held": 6,
    }
    f.update(kw)
    return f


def count(s: Store, table: Any) -> int:
    with s.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar_one())


# --------------------------------------------------------------------------- lifecycle
def test_new_database_is_migrated_to_head(make_store: MakeStore) -> None:
    s = make_store(register=False)
    assert current_revision(s.engine) == head_revision() == "0006"


def test_register_fresh_resume_and_config_change(make_store: MakeStore, store_url: str) -> None:
    s = make_store(register=False)
    assert s.find_bot() is None
    first = s.register("hash-1", "configs/b1.json")
    assert first == {"resumed": False, "config_changed": False}
    pk = s.pk
    s.set_status("finished", feed_state="HISTORICAL")

    again = Store(store_url, "b1", "paper", engine=s.engine)
    r = again.register("hash-1", "configs/b1.json")
    assert r["resumed"] is True and r["config_changed"] is False
    assert r["previous_status"] == "finished"
    assert again.pk == pk
    row = again.bot_row()
    assert row["status"] == "running" and row["feed_state"] == "HISTORICAL"

    changed = Store(store_url, "b1", "paper", engine=s.engine).register("hash-2", "configs/b1.json")
    assert changed["resumed"] is True and changed["config_changed"] is True


def test_register_fresh_deletes_the_bots_earlier_rows(make_store: MakeStore) -> None:
    s = make_store()
    intent(s, "b1:5:entry")
    s.record_fill("b1:5:entry", 1, side="BUY", qty=10, price=100.0, commission=1.0, fill_time=T0)
    s.set_position("RELIANCE", 10, 100.0)
    s.record_trade("b1:5:entry", **trade_fields())
    s.checkpoint(5, T0, 1000.0, 2000.0, True, {"k": 1})
    s.event("restart", "x")
    other = make_store("b2")
    intent(other, "b2:1:entry")

    r = s.register("hash-1", "configs/b1.json", fresh=True)
    assert r == {"resumed": False, "config_changed": False}
    assert s.orders() == [] and s.fills() == [] and s.positions() == []
    assert s.trades() == [] and s.equity() == [] and s.events() == []
    assert s.load_checkpoint() is None
    assert [o["tag"] for o in other.orders()] == ["b2:1:entry"]  # other bot untouched


def test_unknown_bot_is_a_clear_error(make_store: MakeStore) -> None:
    s = make_store("ghost", register=False)
    with pytest.raises(StoreError, match="no rows for bot 'ghost' in paper mode"):
        s.orders()


def test_paper_and_live_are_different_bots(make_store: MakeStore) -> None:
    paper = make_store("b1", "paper")
    live = make_store("b1", "live")
    assert paper.pk != live.pk
    intent(paper, "b1:5:entry")
    assert live.orders() == []


# --------------------------------------------------------------------------- orders and fills
def test_record_intent_is_idempotent_by_tag(make_store: MakeStore) -> None:
    s = make_store()
    assert intent(s, "b1:5:entry", price=2500.5, order_type="Limit") is True
    assert intent(s, "b1:5:entry", qty=99.0) is False
    rows = s.orders()
    assert len(rows) == 1 and count(s, m.orders) == 1
    o = rows[0]
    assert o["qty_requested"] == 10.0 and o["price_requested"] == 2500.5
    assert o["status"] == "intent" and o["qty_filled"] == 0.0 and o["avg_fill_price"] is None
    assert o["bar_time"] == T0 and o["bar_index"] == 5
    assert [h[0] for h in o["status_history"]] == ["intent"]
    assert [r["tag"] for r in s.orders(open_only=True)] == ["b1:5:entry"]


def test_order_status_history_and_final_status_never_moves_back(make_store: MakeStore) -> None:
    s = make_store()
    intent(s, "t1")
    for st in ("Submitted", "Submitted", "Accepted", "Completed"):
        s.order_status("t1", st, broker_order_id="BRK-1" if st == "Accepted" else None)
    s.order_status("t1", "Submitted")  # a re-processed bar re-submits: must not move back
    s.order_status("t1", "Canceled")
    o = s.orders()[0]
    assert o["status"] == "Completed"
    assert [h[0] for h in o["status_history"]] == ["intent", "Submitted", "Accepted", "Completed"]
    assert o["broker_order_id"] == "BRK-1"
    assert s.orders(open_only=True) == []
    s.order_status("no-such-tag", "Accepted")  # unknown tag: ignored, no row created
    assert len(s.orders()) == 1


def test_record_fill_is_idempotent_and_updates_the_order(make_store: MakeStore) -> None:
    s = make_store()
    intent(s, "t1")
    assert s.record_fill("t1", 1, side="BUY", qty=4, price=100.0, commission=0.5, fill_time=T0)
    assert not s.record_fill("t1", 1, side="BUY", qty=4, price=100.0, commission=0.5, fill_time=T0)
    assert s.record_fill("t1", 2, side="BUY", qty=6, price=110.0, commission=0.7, fill_time=T0)
    fills = s.fills()
    assert [(f["seq"], f["qty"], f["price"]) for f in fills] == [(1, 4.0, 100.0), (2, 6.0, 110.0)]
    o = s.orders()[0]
    assert o["qty_filled"] == 10.0
    assert o["avg_fill_price"] == pytest.approx((4 * 100 + 6 * 110) / 10, rel=1e-12)


def test_same_fill_seq_on_another_order_is_a_new_fill(make_store: MakeStore) -> None:
    s = make_store()
    intent(s, "t1")
    intent(s, "t2")
    assert s.record_fill("t1", 1, side="BUY", qty=1, price=1.0, commission=0, fill_time=None)
    assert s.record_fill("t2", 1, side="SELL", qty=1, price=2.0, commission=0, fill_time=None)
    assert len(s.fills()) == 2


# --------------------------------------------------------------------------- positions and trades
def test_set_position_upserts(make_store: MakeStore) -> None:
    s = make_store()
    s.set_position("RELIANCE", 10, 2500.0)
    s.set_position("RELIANCE", 15, 2510.0)
    s.set_position("TCS", 3, 3900.0)
    assert sorted((p["symbol"], p["qty"], p["avg_price"]) for p in s.positions()) == [
        ("RELIANCE", 15.0, 2510.0),
        ("TCS", 3.0, 3900.0),
    ]
    assert count(s, m.positions) == 2
    s.set_position("TCS", 0, 0.0)  # flat: kept as a row, not listed
    assert [p["symbol"] for p in s.positions()] == ["RELIANCE"]
    assert count(s, m.positions) == 2


def test_record_trade_is_idempotent(make_store: MakeStore) -> None:
    s = make_store()
    assert s.record_trade("t1", **trade_fields()) is True
    assert s.record_trade("t1", **trade_fields(pnl_net=-1.0)) is False
    assert s.record_trade("t2", **trade_fields(exit_time=T0 + dt.timedelta(hours=2))) is True
    trades = s.trades()
    assert [t["entry_tag"] for t in trades] == ["t1", "t2"]
    assert trades[0]["pnl_net"] == 85.16 and trades[0]["entry_time"] == T0


# --------------------------------------------------------------------------- checkpoints, equity, events
def test_checkpoint_round_trip(make_store: MakeStore) -> None:
    s = make_store()
    assert s.load_checkpoint() is None
    cash = 100000.0 / 3.0  # not representable in few digits: floats must come back bit-exact
    state = {
        "position": {"size": 7.0, "price": 0.1 + 0.2},
        "orders": [{"tag": "b1:5:stop_loss", "price": 2487.123456789, "oco": None}],
        "risk": {"peak_equity": 1e-7 + 100000.0, "halted": False, "halt_reason": None},
        "text": "₹ ok",
    }
    s.checkpoint(5, T0, cash, cash + 1.5, True, state)
    ck = s.load_checkpoint()
    assert ck is not None
    assert ck["bar_index"] == 5 and ck["bar_time"] == T0
    assert ck["cash"] == cash
    assert ck["state"] == state
    assert ck["state"]["position"]["price"] == 0.1 + 0.2

    s.checkpoint(6, T0 + dt.timedelta(minutes=5), 1.25, 2.5, False, {"n": [1, 2]})
    ck = s.load_checkpoint()
    assert ck is not None and ck["bar_index"] == 6 and ck["state"] == {"n": [1, 2]}
    assert count(s, m.checkpoints) == 1  # one row per bot, updated in place
    assert s.bot_row()["last_heartbeat"] is not None


def test_equity_points(make_store: MakeStore) -> None:
    s = make_store()
    for i in (2, 0, 1):
        s.checkpoint(i, T0 + dt.timedelta(minutes=5 * i), 1000.0 + i, 1000.5 + i, i == 1, {})
    eq = s.equity()
    assert [e["bar_index"] for e in eq] == [0, 1, 2]
    assert [e["value"] for e in eq] == [1000.5, 1001.5, 1002.5]
    assert [e["in_market"] for e in eq] == [0, 1, 0]
    assert eq[1]["bar_time"] == T0 + dt.timedelta(minutes=5)


def test_events(make_store: MakeStore) -> None:
    s = make_store()
    s.event("order_sent", "BUY 10 Market (entry)", {"tag": "t1", "price": None}, T0)
    s.event("restart", "resumed after bar 4")
    s.event("order_sent", "SELL 10 Stop (stop_loss)", {"tag": "t2", "price": 99.5})
    assert [e["kind"] for e in s.events()] == ["order_sent", "restart", "order_sent"]
    sent = s.events("order_sent")
    assert [e["data"]["tag"] for e in sent] == ["t1", "t2"]
    assert sent[0]["bar_time"] == T0 and sent[0]["data"]["price"] is None
    assert s.events("restart")[0]["data"] is None


# --------------------------------------------------------------------------- isolation
def test_two_bots_on_one_database_keep_their_rows_apart(
    make_store: MakeStore, store_url: str
) -> None:
    a = make_store("bot_a")
    b = Store(store_url, "bot_b", "paper")  # its own engine, as a second process would have
    try:
        b.register("hash-b", "configs/b.json")
        assert a.pk != b.pk
        for s, price in ((a, 100.0), (b, 200.0)):
            # the same tags for both bots are allowed
            assert intent(s, "shared:5:entry", price=price, order_type="Limit")
            s.order_status("shared:5:entry", "Completed")
            assert s.record_fill(
                "shared:5:entry", 1, side="BUY", qty=1, price=price, commission=0, fill_time=T0
            )
            s.set_position("RELIANCE", price / 100, price)
            assert s.record_trade("shared:5:entry", **trade_fields(entry_price=price))
            s.checkpoint(5, T0, price * 10, price * 11, True, {"owner": s.bot_id})
            s.event("restart", f"event of {s.bot_id}")
        intent(a, "only_a:6:entry")

        assert [o["tag"] for o in a.orders()] == ["shared:5:entry", "only_a:6:entry"]
        assert [o["tag"] for o in b.orders()] == ["shared:5:entry"]
        assert b.orders()[0]["price_requested"] == 200.0
        assert [f["price"] for f in b.fills()] == [200.0]
        assert [p["avg_price"] for p in b.positions()] == [200.0]
        assert [t["entry_price"] for t in a.trades()] == [100.0]
        assert [t["entry_price"] for t in b.trades()] == [200.0]
        cka, ckb = a.load_checkpoint(), b.load_checkpoint()
        assert cka is not None and cka["state"] == {"owner": "bot_a"} and cka["cash"] == 1000.0
        assert ckb is not None and ckb["state"] == {"owner": "bot_b"} and ckb["cash"] == 2000.0
        assert [e["value"] for e in b.equity()] == [2200.0]
        assert [e["message"] for e in b.events("restart")] == ["event of bot_b"]

        # a re-run of b's bar finds b's intent, not a's, and a's final status is not b's
        assert intent(b, "only_a:6:entry") is True
        b.order_status("only_a:6:entry", "Canceled")
        assert a.orders(open_only=True)[0]["status"] == "intent"

        # a fresh start of bot b leaves bot a's rows alone
        b.register("hash-b", "configs/b.json", fresh=True)
        assert b.orders() == [] and b.load_checkpoint() is None
        assert len(a.orders()) == 2 and len(a.fills()) == 1 and a.load_checkpoint() is not None
    finally:
        b.close()
