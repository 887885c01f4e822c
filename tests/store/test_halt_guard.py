"""The halt guard: once `mixbot panic` has committed the bot's ``halted`` status, an order
intent of a bot that has not taken the halt in yet is refused (BotHalted) and nothing of
the bar's pending writes is lost; after the bot took it in (its own square-off) intents
pass again. On SQLite and, with MIXBOT_TEST_PG_URL, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Any

import backtrader as bt
import pytest

from mixbot.errors import BotHalted
from mixbot.store.repository import Store
from mixbot.strategy.persistence import Persistence

T = dt.datetime(2019, 1, 2, 4, 6)
SPEC = {"role": "trailing_stop", "side": "SELL", "exectype": bt.Order.Market, "size": 140.0}


def _urls(tmp_path: Path) -> list[str]:
    urls = [f"sqlite:///{tmp_path / 'guard.sqlite'}"]
    if os.environ.get("MIXBOT_TEST_PG_URL"):
        urls.append(os.environ["MIXBOT_TEST_PG_URL"])
    return urls


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_intent_after_the_panic_is_refused_and_nothing_is_lost(
    tmp_path: Path, backend: str
) -> None:
    urls = {u.split(":")[0].split("+")[0]: u for u in _urls(tmp_path)}
    if backend not in urls:
        pytest.skip("MIXBOT_TEST_PG_URL not set (.ci/run sets it up)")
    bot = f"guard-{uuid.uuid4().hex[:8]}"
    bot_store = Store(urls[backend], bot, "live")
    bot_store.register("h", "cfg.json")
    panic_store = Store(urls[backend], bot, "live", create=False)  # the panic's process
    try:
        p = Persistence(bot_store, "BANKNIFTY")
        p.on_position(140.0, 27400.0)  # a write of the bar, pending
        panic_store.set_status("halted")
        spec: dict[str, Any] = {**SPEC, "price": None}
        with pytest.raises(BotHalted, match="halted"):
            p.intents([(f"{bot}:394:exit", spec)], 394, T)
        assert bot_store.orders() == []  # no intent, so no order is sent
        assert bot_store.positions() == []  # the pending write was not committed ...
        p.halt("halted from outside (mixbot panic)", T)  # ... and goes with the next commit
        assert [r["qty"] for r in bot_store.positions()] == [140.0]
        assert p.intents([(f"{bot}:394:panic", spec)], 394, T) == [True]  # taken in: passes
        assert [o["tag"] for o in bot_store.orders()] == [f"{bot}:394:panic"]
    finally:
        bot_store.close()
        panic_store.close()


def test_a_running_bot_passes_the_guard(tmp_path: Path) -> None:
    s = Store(f"sqlite:///{tmp_path / 'ok.sqlite'}", "run", "live")
    s.register("h", "cfg.json")
    try:
        p = Persistence(s, "BANKNIFTY")
        assert p.intents([("run:5:entry", {**SPEC, "side": "BUY", "price": None})], 5, T) == [True]
        assert s.bot_row()["status"] == "running"
    finally:
        s.close()
