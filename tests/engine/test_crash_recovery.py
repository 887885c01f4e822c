"""Crash test: a replayed paper session killed with SIGKILL at 20+ points and restarted ends
exactly like an uninterrupted run (same orders, fills, trades, equity, final checkpoint),
with zero duplicate orders and zero lost fills."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixbot.paths import REPO_ROOT
from mixbot.store.crashtest import kill_points, kill_session, run_bot, session_digest
from mixbot.store.digest import compare


def _config(data_dir: Path, tmp_path: Path, bot_id: str, to: str) -> Path:
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
    doc["bot_id"] = bot_id
    doc["data"].update(path=str(data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"), to=to)
    cfg = tmp_path / f"{bot_id}.json"
    cfg.write_text(json.dumps(doc))
    return cfg


def test_twenty_kills_change_nothing(data_dir: Path, tmp_path: Path) -> None:
    cfg = _config(data_dir, tmp_path, "crash20", "2019-01-08")
    lines: list[str] = []
    rep = kill_session(cfg, tmp_path, "crash20", kills=20, seed=11, log=lines.append)
    assert rep.kills == 20, "\n".join(lines)
    assert rep.injected >= 10 and rep.external >= 3
    c = rep.comparison
    assert c["duplicate_orders"] == []
    assert c["lost_fills"] == [] and c["extra_fills"] == []
    assert c["equal"], c["first_difference"]
    ref = session_digest(f"sqlite:///{tmp_path / 'reference.sqlite'}", "crash20")
    assert len(ref["fills"]) >= 10 and len(ref["trades"]) >= 5  # the session really traded


def test_kill_between_intent_and_send_sends_once(data_dir: Path, tmp_path: Path) -> None:
    """Killed right after an entry intent is committed: the restart re-processes the bar,
    finds the intent by its tag and sends exactly one order; the restart is audited."""
    cfg = _config(data_dir, tmp_path, "crash1", "2019-01-02")
    ref_url = f"sqlite:///{tmp_path / 'ref.sqlite'}"
    assert run_bot(cfg, ref_url, fresh=True, cwd=tmp_path) == 0
    ref = session_digest(ref_url, "crash1")
    entry = next(o for o in ref["orders"] if o[1] == "entry")
    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    assert run_bot(cfg, url, fresh=True, crash_at=f"{entry[9]}:intent", cwd=tmp_path) == -9
    mid = session_digest(url, "crash1")
    assert [o[0] for o in mid["orders"]] == [entry[0]] and mid["orders"][0][8] == "intent"
    assert mid["checkpoint"][0] == entry[9] - 1  # the intent's bar was not checkpointed
    assert run_bot(cfg, url, cwd=tmp_path) == 0
    assert compare(ref, session_digest(url, "crash1"))["equal"]
    from mixbot.store.repository import Store

    store = Store(url, "crash1", "paper", create=False)
    kinds = [e["kind"] for e in store.events()]
    assert "restart" in kinds and "reconcile" in kinds
    store.close()


def test_kill_points_need_a_long_enough_session() -> None:
    import random

    ref = {"checkpoint": (100, 0.0, {}), "equity": [], "orders": [], "fills": []}
    with pytest.raises(ValueError, match="too short"):
        kill_points(ref, 20, random.Random(1))


def test_kill_after_an_exit_cancelled_the_protective_orders(data_dir: Path, tmp_path: Path) -> None:
    """Killed after the checkpoint of a bar whose exit cancelled the stop-loss and take-profit
    (their Canceled notification not stored yet): the restart no longer tracks them, so the
    reconciliation stores them Canceled, like the uninterrupted run."""
    cfg = _config(data_dir, tmp_path, "crashx", "2019-01-08")
    ref_url = f"sqlite:///{tmp_path / 'ref.sqlite'}"
    assert run_bot(cfg, ref_url, fresh=True, cwd=tmp_path) == 0
    ref = session_digest(ref_url, "crashx")
    # an exit order (sent by the strategy, which cancels both protective orders first)
    exit_ = next(o for o in ref["orders"] if o[0].endswith(":exit"))
    cancelled = [o for o in ref["orders"] if o[8] == "Canceled" and o[9] < exit_[9]]
    assert cancelled, "the session must cancel protective orders on an exit"
    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    assert run_bot(cfg, url, fresh=True, crash_at=f"{exit_[9]}:after", cwd=tmp_path) == -9
    mid = {o[0]: o[8] for o in session_digest(url, "crashx")["orders"]}
    assert all(mid[o[0]] in ("Submitted", "Accepted") for o in cancelled[-2:])
    assert run_bot(cfg, url, cwd=tmp_path) == 0
    c = compare(ref, session_digest(url, "crashx"))
    assert c["equal"], c["first_difference"]
