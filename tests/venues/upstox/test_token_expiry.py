"""The daily token expiry across a simulated night: the local Upstox simulator kills the
access token before the second session (Upstox: 03:30 IST) and holds the market until the
user logs in again; the running bot stops sending orders, says why (status, events, audit),
and when `mixbot upstox login` writes a new token it takes it up without a restart: the feed
re-authorises, the broker re-reads its orders, trading goes on. Real BANKNIFTY 1-minute data,
2019-01-01 and 2019-01-02."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from tests.venues.upstox.live_sim import APP, live_config, login_when_expired, simulator

from mixbot.engine.runner import Bot

pytest.importorskip("mixbot.simulators.upstox")
BOT = "overnight"


@pytest.mark.parametrize("night", [True, False], ids=["across-the-night", "started-expired"])
def test_a_new_login_is_taken_up_without_a_restart(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, night: bool
) -> None:
    """across-the-night: the token dies before the second session; started-expired: the bot
    starts with a token Upstox refuses (yesterday's), trades nothing, says how to log in."""
    monkeypatch.chdir(tmp_path)
    day = "2019-01-02" if night else "2019-01-01"
    cfg = live_config(tmp_path, BOT, day)
    sim = simulator(
        data_dir,
        tmp_path,
        day,
        cash=2_000_000.0,
        expire_tokens=night,
        hold_for_login=night,
        hold_without_client=not night,  # (started-expired: no market time passes unseen)
    )
    sim.start()
    url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    seen: dict[str, Any] = {}
    try:
        for k, v in {**sim.env(), **APP}.items():
            monkeypatch.setenv(k, v)
        if not night:
            monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", "yesterdays-token")
        monkeypatch.setenv("MIXBOT_UPSTOX_TOKEN_FILE", str(tmp_path / "token.json"))
        monkeypatch.setenv("MIXBOT_DATABASE_URL", url)
        user = threading.Thread(
            target=login_when_expired, args=(sim, url, BOT, seen, night), daemon=True
        )
        user.start()
        bot = Bot(cfg, fresh=True)
        result = bot.run()
        user.join(60)
        sim_orders = sim.exchange.orders()
    finally:
        sim.stop()
    assert "error" not in seen, seen.get("error")
    assert seen["status"] == "token_expired"
    code, out = seen["login"]
    assert code == 0 and "saved the Upstox access token" in out, out
    assert "sim-token" not in out  # the CLI never prints the token

    store = bot.store
    kinds = [e["kind"] for e in store.events() if e["kind"].startswith("token_")]
    assert kinds == ["token_expired", "token_renewed"]
    expired = store.events("token_expired")[0]["message"]
    assert "mixbot upstox login" in expired
    # ...and the bot went on through the second session with the new token
    assert bot.get_status()["status"] == "finished"
    last = store.load_checkpoint()
    assert last is not None and last["bar_time"].date().isoformat() == day
    assert last["bar_time"].hour >= 9  # (UTC) the afternoon of the second day
    assert result.trades
    mine = [o for o in sim_orders if str(o["tag"] or "").startswith(f"{BOT}:")]
    assert sorted(o["tag"] for o in store.orders()) == sorted(o["tag"] for o in mine)
    assert not [o for o in store.orders() if o["status"] == "Rejected"]
