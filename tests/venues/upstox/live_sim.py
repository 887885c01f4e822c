"""Helpers of the live-on-the-simulator tests: a bot config for the Upstox broker on the
BANKNIFTY example, validated, and a simulator on the same real 1-minute file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from mixbot.config.model import build
from mixbot.config.validate import validate_file
from mixbot.paths import REPO_ROOT
from mixbot.store.repository import Store

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
#: the Upstox app of the login tests (the simulator accepts any)
APP = {
    "UPSTOX_API_KEY": "sim-key",
    "UPSTOX_API_SECRET": "sim-secret",
    "UPSTOX_REDIRECT_URI": "http://127.0.0.1:5055/callback",
}


def live_config(tmp_path: Path, bot_id: str, to: str, **broker: Any) -> Any:
    """The validated config of ``config/trading/live/upstox_sim_banknifty.json`` as bot
    ``bot_id`` on the real-money ``upstox`` broker (``broker`` adds fields), data up to ``to``."""
    doc = json.loads((REPO_ROOT / "config/trading/live/upstox_sim_banknifty.json").read_text())
    doc["bot_id"] = bot_id
    doc["broker"] = {
        "type": "upstox",
        "access_token": "${UPSTOX_ACCESS_TOKEN}",
        "algo_name": "a",
        **broker,
    }
    doc["data"]["to"] = to
    path = tmp_path / f"{bot_id}.json"
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=path.read_text(), env={"UPSTOX_ACCESS_TOKEN": "sim-token"})
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def simulator(data_dir: Path, tmp_path: Path, end: str, **kw: Any) -> Any:
    """A started-later simulator of that file from 2019-01-01 to ``end`` at speed 1200."""
    from mixbot.simulators.upstox import Simulator

    return Simulator(
        files=[data_dir / FILE],
        port=0,
        speed=1200,
        start="2019-01-01",
        end=end,
        tls_dir=tmp_path / "tls",
        **kw,
    )


def login() -> tuple[int, str]:
    """The user's login: the browser step (the simulator's login dialog redirects at once),
    then ``mixbot upstox login --code <redirect URL>``; its return code and output."""
    from mixbot.venues.upstox import auth
    from mixbot.venues.upstox.http.hosts import ssl_context

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
    return r.returncode, r.stdout + r.stderr


def login_when_expired(sim: Any, url: str, bot_id: str, seen: dict[str, Any], night: bool) -> None:
    """The user, once bot ``bot_id`` (store ``url``) says its token expired: log in (the
    browser step, then ``mixbot upstox login --code``); ``night``: first wait until the
    simulator expired the token. What happened goes into ``seen`` (``status``, ``login``:
    (return code, output), ``error``: an exception, after which the simulator is stopped)."""
    try:
        if night:
            assert sim.waiting_for_login.wait(300), "the simulator never expired the token"
        deadline = time.monotonic() + 120  # a guard only: the bot says it within a second
        while not Path(url.removeprefix("sqlite:///")).exists():
            assert time.monotonic() < deadline, "the bot never opened its store"
            time.sleep(0.1)
        store = Store(url, bot_id, "live", create=False)
        while store.find_bot() is None or store.bot_row()["status"] != "token_expired":
            assert time.monotonic() < deadline, "the bot never said its token expired"
            time.sleep(0.1)
        seen["status"] = store.bot_row()["status"]
        store.close()
        seen["login"] = login()
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        seen["error"] = exc
        sim.stop()


def manual_buy(sim: Any, qty: int, key: str = "NSE_FO|35005") -> str:
    """BUY ``qty`` of ``key`` (the simulator's BANKNIFTY future) at market from another app
    on the same account (no mixbot tag), with the Upstox SDK; the order id."""
    import upstox_client

    conf = upstox_client.Configuration()
    conf.host = conf.order_host = sim.base_url
    conf.ssl_ca_cert = str(sim.ca_path)
    conf.access_token = sim.token
    body = upstox_client.PlaceOrderV3Request(
        quantity=qty, product="I", validity="DAY", price=0.0, tag="app-manual",
        instrument_token=key, order_type="MARKET", transaction_type="BUY",
        disclosed_quantity=0, trigger_price=0.0, is_amo=False, slice=False,
    )  # fmt: skip
    placed = upstox_client.OrderApiV3(upstox_client.ApiClient(conf)).place_order(body)
    return str(placed.data.order_ids[0])
