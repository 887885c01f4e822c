"""Crash test with the IBKR venue: `mixbot run` of the example (broker ``ibkr``, feed
``ibkr``) against the lockstep simulator is killed (SIGKILL, right after an order intent and
right after a fill were committed) and restarted until it runs to the end. The simulator's
clock stands still while no bot is subscribed, so a restart costs no market time. Then:
no orderRef was sent twice and every execution IB made for the bot is in the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ibkr_rig import EXAMPLE, make_sim

from mixbot.paths import REPO_ROOT

pytest.importorskip("ib_async")

BOT = "ibkr-crash"
PLAN = ["0+:intent", "0+:fill", "0+:intent", None]


def _run(cfg: Path, env: dict[str, str], spec: str | None, cwd: Path) -> int:
    env = dict(env)
    env.pop("MIXBOT_CRASH_AT", None)
    if spec:
        env["MIXBOT_CRASH_AT"] = spec
    cmd = [sys.executable, "-m", "mixbot", "run", str(cfg), "--no-progress"]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, timeout=300)
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"bot exited {proc.returncode}:\n{proc.stderr.decode()[-3000:]}")
    return proc.returncode


def test_kill9_restarts_find_their_orders(data_dir: Path, tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["bot_id"] = BOT
    doc["data"]["to"] = "2019-01-03"
    doc["ibkr"]["max_messages_per_second"] = 100_000
    cfg = tmp_path / "crash.json"
    cfg.write_text(json.dumps(doc))
    db = tmp_path / "live.sqlite"
    sim = make_sim(data_dir, end="2019-01-03", cash=2_000_000.0)
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
        orders = sim.call(lambda: list(sim.exchange.orders.values()))
    finally:
        sim.stop()
    assert sum(1 for _, rc in codes if rc == -signal.SIGKILL) >= 2, codes

    from mixbot.store.repository import Store

    store = Store(f"sqlite:///{db}", BOT, "live", create=False)
    try:
        stored = {o["tag"]: o for o in store.orders()}
        fills = store.fills()
        positions = store.positions()
        reconciles = [e["message"] for e in store.events("reconcile")]
    finally:
        store.close()
    refs = [o.order_ref for o in orders]
    assert refs and len(refs) == len(set(refs)), "an orderRef was sent twice"
    assert all(r in stored for r in refs)
    ib_filled = {o.order_ref: o.filled * 20 for o in orders if o.filled}
    by_tag: dict[str, float] = {}
    for f in fills:
        by_tag[f["order_tag"]] = by_tag.get(f["order_tag"], 0.0) + f["qty"]
    assert by_tag == pytest.approx(ib_filled)
    net = sum((1 if o.action == "BUY" else -1) * o.filled * 20 for o in orders)
    assert sum(p["qty"] for p in positions) == pytest.approx(net)
    assert len(fills) >= 2, "the session did not trade"
    assert any("adopted orderRef" in m for m in reconciles), reconciles  # found again at IB
