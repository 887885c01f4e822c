"""A position opened beside the bot (a manual order in the Upstox app, placed here with the
official Upstox SDK on the same account of the local simulator) is reported and never taken
into the bot's position: under ``ignore`` the bot trades beside it with its own quantities
only; under ``refuse`` (the default) it enters nothing while the position is there. Real
BANKNIFTY 1-minute data, one session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.venues.upstox.live_sim import live_config, manual_buy, simulator

from mixbot.engine.runner import Bot

pytest.importorskip("mixbot.simulators.upstox")
upstox_client = pytest.importorskip("upstox_client")
KEY = "NSE_FO|35005"  # the simulator's BANKNIFTY future of that file (lot 20)
MANUAL = 40  # shares bought in "the app"


def _session(data_dir: Path, tmp_path: Path, mp: pytest.MonkeyPatch, policy: str | None) -> Any:
    mp.chdir(tmp_path)
    extra = {} if policy is None else {"outside_positions": policy}
    cfg = live_config(tmp_path, "beside", "2019-01-01", **extra)
    sim = simulator(data_dir, tmp_path, "2019-01-01", cash=5_000_000.0)
    sim.start()
    try:
        for k, v in sim.env().items():
            mp.setenv(k, v)
        mp.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite'}")
        manual_id = manual_buy(sim, MANUAL)
        bot = Bot(cfg, fresh=True)
        result = bot.run()
        orders, fills = sim.exchange.orders(), sim.exchange.fills()
    finally:
        sim.stop()
    return bot, result, manual_id, orders, fills


def _events(bot: Any) -> list[dict[str, Any]]:
    return bot.store.events("outside_position")


def test_ignore_trades_beside_it_with_its_own_quantities(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, result, manual_id, orders, fills = _session(data_dir, tmp_path, monkeypatch, "ignore")
    manual = [f for f in fills if f.order_id == manual_id]
    assert sum(f.qty for f in manual) == MANUAL  # the app's order did fill
    reported = [e["data"] for e in _events(bot)]
    assert {"qty": MANUAL, "orders": [], "action": "ignored"} in reported
    assert result.trades, "the bot must trade beside the manual position"
    # the bot's orders are its own quantities only: every exit closes exactly its entry
    mine = [o for o in orders if str(o["tag"] or "").startswith("beside:")]
    entry_qty = {o["filled_quantity"] for o in mine if o["tag"].endswith(":entry")}
    for o in mine:
        if not o["tag"].endswith(":entry") and o["filled_quantity"]:
            assert o["filled_quantity"] <= max(entry_qty)  # never sells the manual shares
    assert {t.size for t in result.trades} <= entry_qty
    # the store never held the manual shares: at the end the bot is flat, the account is not
    assert all(not p["qty"] for p in bot.store.positions())
    bus = bot.store.engine  # the bus event went out with the audit row
    from mixbot.store.outbox import EventLog

    types = [e["type"] for e in EventLog(bot.store.url, engine=bus).read(bot_ids=["beside"])]
    assert "outside_position" in types


def test_refuse_enters_nothing_while_it_is_there(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, result, manual_id, orders, fills = _session(data_dir, tmp_path, monkeypatch, None)
    assert sum(f.qty for f in fills if f.order_id == manual_id) == MANUAL
    mine = [o for o in orders if str(o["tag"] or "").startswith("beside:")]
    assert mine == [] and not result.trades
    actions = [e["data"]["action"] for e in _events(bot)]
    assert actions and set(actions) == {"entries refused"}
    refused = bot.store.events("entry_refused")
    assert refused and all("not opened by this bot" in e["message"] for e in refused)
    assert "broker.outside_positions" in refused[0]["message"]
    from mixbot.service.status import from_store

    st = from_store(bot.cfg, bot.store)
    assert st.outside is not None and f"position of +{MANUAL} BANKNIFTY" in st.outside
