"""Crash test with the Upstox broker: `mixbot run` (broker ``upstox``, feed ``upstox``) against
the local simulator replaying real BANKNIFTY 1-minute data is killed with SIGKILL again and
again (right after an order intent is committed, right after a fill is committed, and at
arbitrary moments from outside) and restarted each time, while the simulated exchange keeps
trading. Afterwards the store is reconciled against the exchange's order book: no tag was
sent twice, every fill the exchange made for the bot is in the store (and nothing else), and
the bot's position is the exchange's.

The simulated exchange's clock stands still while no bot is connected
(``hold_without_client``): how long a restart takes on a busy machine costs no market time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mixbot.paths import REPO_ROOT

sim_mod = pytest.importorskip("mixbot.simulators.upstox")

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
BOT = "crash-up"
# one kill per run, then a run that goes to the end: injected at the first fresh order intent
# / the first committed fill at or after bar 0 of that run ("0+"), or from outside after some
# seconds ("ext:<s>")
PLAN = ["0+:intent", "0+:fill", "ext:4", "0+:intent", "0+:fill", "ext:2.5", "0+:intent", None]


def _run(cfg: Path, env: dict[str, str], spec: str | None, cwd: Path) -> int:
    env = dict(env)
    env.pop("MIXBOT_CRASH_AT", None)
    if spec and not spec.startswith("ext:"):
        env["MIXBOT_CRASH_AT"] = spec
    cmd = [sys.executable, "-m", "mixbot", "run", str(cfg), "--no-progress"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if spec and spec.startswith("ext:"):
        try:
            proc.wait(timeout=float(spec[4:]))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(
            f"bot exited {proc.returncode}:\n{err.decode(errors='replace')[-3000:]}"
        )
    return proc.returncode


def _base(tag: str) -> str:
    """The bot's tag of an exchange order (a re-sent stuck exit carries ``:r<n>``)."""
    head, _, last = tag.rpartition(":")
    return head if last.startswith("r") and last[1:].isdigit() else tag


def test_kill9_restarts_reconcile_with_the_exchange(data_dir: Path, tmp_path: Path) -> None:
    doc = json.loads((REPO_ROOT / "config/trading/live/upstox_sim_banknifty.json").read_text())
    doc["bot_id"] = BOT
    doc["broker"] = {
        "type": "upstox",
        "access_token": "${UPSTOX_ACCESS_TOKEN}",
        "algo_name": "t-algo",
    }
    doc["data"]["to"] = "2019-01-03"
    doc["risk_management"]["max_daily_trades"] = 20
    cfg = tmp_path / "crash.json"
    cfg.write_text(json.dumps(doc))
    db = tmp_path / "live.sqlite"
    sim = sim_mod.Simulator(
        files=[data_dir / FILE], port=0, speed=900, start="2019-01-01", end="2019-01-03",
        tls_dir=tmp_path / "tls", cash=2_000_000.0, hold_without_client=True,
    )  # fmt: skip
    sim.start()
    codes: list[tuple[str | None, int]] = []
    try:
        env = {**os.environ, **sim.env(), "MIXBOT_DATABASE_URL": f"sqlite:///{db}"}
        env["PYTHONPATH"] = str(REPO_ROOT / "src")
        for spec in PLAN:
            rc = _run(cfg, env, spec, tmp_path)
            codes.append((spec, rc))
            if rc == 0:
                break
        else:
            raise AssertionError(f"the last run did not finish: {codes}")
        deadline = time.monotonic() + 30
        while not sim.finished and time.monotonic() < deadline:
            time.sleep(0.2)
        orders = sim.exchange.orders()
    finally:
        sim.stop()

    kills = [spec for spec, rc in codes if rc == -signal.SIGKILL]
    assert len(kills) >= 4, codes
    assert any(k.endswith(":intent") for k in kills) and any(k.endswith(":fill") for k in kills)

    from mixbot.store.repository import Store

    store = Store(f"sqlite:///{db}", BOT, "live", create=False)
    try:
        stored = {o["tag"]: o for o in store.orders()}
        fills = store.fills()
        positions = store.positions()
        restarts = store.events("restart")
        reconciles = store.events("reconcile")
    finally:
        store.close()

    mine = [o for o in orders if str(o["tag"] or "").startswith(f"{BOT}:")]
    tags = [o["tag"] for o in mine]
    assert len(tags) == len(set(tags)), "a tag was sent twice"
    assert mine and all(o["status"] in ("complete", "cancelled", "rejected") for o in mine)
    # every exchange order is one the store knows (a stuck exit's re-send counts for its exit)
    filled: dict[str, tuple[float, float]] = {}
    for o in mine:
        base = _base(o["tag"])
        assert base in stored, f"exchange order {o['tag']} unknown to the store"
        q = float(o["filled_quantity"] or 0)
        if q:
            q0, n0 = filled.get(base, (0.0, 0.0))
            filled[base] = (q0 + q, n0 + q * float(o["average_price"]))
    # no lost fill, no invented fill: per tag, the store's fills are the exchange's
    by_tag: dict[str, tuple[float, float]] = {}
    for f in fills:
        q0, n0 = by_tag.get(f["order_tag"], (0.0, 0.0))
        by_tag[f["order_tag"]] = (q0 + f["qty"], n0 + f["qty"] * f["price"])
    assert set(by_tag) == set(filled)
    for tag, (qty, notional) in filled.items():
        assert by_tag[tag][0] == pytest.approx(qty), tag
        assert by_tag[tag][1] / qty == pytest.approx(notional / qty, abs=0.01), tag
        assert stored[tag]["qty_filled"] == pytest.approx(qty), tag
    # orders that never reached the exchange ended without fills
    at_exchange = {_base(t) for t in tags}
    for tag, row in stored.items():
        if tag not in at_exchange:
            assert row["qty_filled"] == 0 and row["status"] in ("Canceled", "Abandoned"), row
    # the bot's position is what its fills at the exchange add up to
    net = sum(
        (1 if o["transaction_type"] == "BUY" else -1) * float(o["filled_quantity"] or 0)
        for o in mine
    )
    trail = [
        (o["tag"], o["transaction_type"], o["order_type"], o["status"], o["filled_quantity"])
        for o in mine
    ]
    assert sum(p["qty"] for p in positions) == pytest.approx(net), (codes, trail, reconciles)
    assert len(fills) >= 4, "the session did not trade"
    assert len(restarts) >= len(kills)
    assert reconciles, "restarts after orders were sent must leave reconcile events"
