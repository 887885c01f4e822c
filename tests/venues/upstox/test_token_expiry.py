"""The daily token expiry across a simulated night: the local Upstox simulator kills the
access token before the second session (Upstox: 03:30 IST) and holds the market until the
user logs in again; the running bot stops sending orders, says why (status, events, audit),
and when `mixbot upstox login` writes a new token it takes it up without a restart: the feed
re-authorises, the broker re-reads its orders, trading goes on. Real BANKNIFTY 1-minute data,
2019-01-01 and 2019-01-02."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.venues.upstox.live_sim import live_config, simulator

from mixbot.engine.runner import Bot
from mixbot.store.repository import Store

pytest.importorskip("mixbot.simulators.upstox")
BOT = "overnight"
APP = {
    "UPSTOX_API_KEY": "sim-key",
    "UPSTOX_API_SECRET": "sim-secret",
    "UPSTOX_REDIRECT_URI": "http://127.0.0.1:5055/callback",
}


def _login(sim: Any, url: str, seen: dict[str, Any], night: bool) -> None:
    """The user, once the bot says its token expired: log in (browser step, then the CLI)."""
    from mixbot.venues.upstox import auth
    from mixbot.venues.upstox.http.hosts import ssl_context

    try:
        if night:
            assert sim.waiting_for_login.wait(300), "the simulator never expired the token"
        deadline = time.monotonic() + 120  # a guard only: the bot says it within a second
        while not Path(url.removeprefix("sqlite:///")).exists():
            assert time.monotonic() < deadline, "the bot never opened its store"
            time.sleep(0.1)
        store = Store(url, BOT, "live", create=False)
        while store.find_bot() is None or store.bot_row()["status"] != "token_expired":
            assert time.monotonic() < deadline, "the bot never said its token expired"
            time.sleep(0.1)
        seen["status"] = store.bot_row()["status"]
        store.close()
        dialog = auth.login_url(APP["UPSTOX_API_KEY"], APP["UPSTOX_REDIRECT_URI"], "st")
        with httpx.Client(verify=ssl_context(), trust_env=False) as http:
            redirect = http.get(dialog).headers["Location"]
        r = subprocess.run(
            [sys.executable, "-m", "mixbot", "upstox", "login", "--code", redirect],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        seen["login"] = (r.returncode, r.stdout + r.stderr)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        seen["error"] = exc
        sim.stop()


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
        user = threading.Thread(target=_login, args=(sim, url, seen, night), daemon=True)
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
