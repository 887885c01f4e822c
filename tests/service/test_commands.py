"""Commands reach a running bot through the store while it waits on a slow feed; the bus
journal delivers each event once across a crash; service reads on a real stored session."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.service.conftest import make_config

from mixbot.bus.consumer import JsonlJournal
from mixbot.bus.events import make
from mixbot.errors import ConfigError
from mixbot.service.bots import BotService
from mixbot.store.outbox import EventLog
from mixbot.store.repository import Store

HANG_GUARD_S = 300


def _until(pred, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + HANG_GUARD_S
    while not pred():
        assert time.monotonic() < deadline, f"hang guard: {what}"
        time.sleep(0.01)


def test_pause_resume_stop_reach_a_bot_waiting_on_its_feed(data_dir: Path, workdir: Path) -> None:
    # speed 1: one 1-minute bar per wall minute, so the bot spends its time waiting on the feed
    cfg = make_config(data_dir, workdir / "bots", "slow", "2019-01-02", speed=1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixbot", "run", str(cfg), "--no-progress", "--fresh"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    svc = BotService()
    try:
        _until(lambda: svc.status(cfg).running, "the bot holds its lock")
        st = svc.status(cfg)
        assert st.pid == proc.pid and st.status == "running"
        res = svc.pause(cfg, wait_s=HANG_GUARD_S)
        assert res.taken and res.result and res.result.startswith("paused")
        assert svc.status(cfg).status == "paused"
        res = svc.resume(cfg, wait_s=HANG_GUARD_S)
        assert res.result == "resumed" and svc.status(cfg).status == "running"
        res = svc.stop(cfg, wait_s=HANG_GUARD_S)
        assert res.result == "stopping after the current bar"
        assert proc.wait(timeout=HANG_GUARD_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    st = svc.status(cfg)
    assert st.status == "stopped" and not st.running
    kinds = [e["message"].split(" (")[0] for e in svc.audit(cfg, "command")]
    assert kinds == ["pause", "resume", "stop"]
    types = [e["type"] for e in svc.bus_events(cfg)]
    assert types[0] == "bot_started" and types[-1] == "bot_stopped"
    assert ["paused", "running"] == [
        e["payload"]["status"] for e in svc.bus_events(cfg) if e["type"] == "status"
    ]
    svc.close()


def test_journal_delivers_each_event_once_across_a_crash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bus.sqlite'}"
    store = Store(url, "jb", "paper")
    store.register("h", "jb.json")
    store.emit(tuple(make("halted", reason=f"r{i}") for i in range(3)))
    log = EventLog(url, engine=store.engine)
    path = tmp_path / "events.jsonl"
    assert JsonlJournal(log, "jb", path).pump() == 3
    store.emit((make("halted", reason="r3"),))
    # a crash after the lines were written but before the cursor moved: write them by hand,
    # with a torn half line after them (killed mid-write)
    rows = log.read(log.cursor(JsonlJournal(log, "jb", path).name), bot_ids=["jb"])
    with path.open("a") as fh:
        fh.write(json.dumps({"seq": rows[0]["seq"], "type": "halted"}) + "\n")
        fh.write('{"seq": 99, "ty')
    store.emit((make("halted", reason="r4"),))
    assert JsonlJournal(log, "jb", path).pump() == 1  # only r4 is new
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["seq"] for x in lines] == sorted({x["seq"] for x in lines})
    assert len(lines) == 5
    assert JsonlJournal(log, "jb", path).pump() == 0
    store.close()


def test_event_keys_make_a_fact_reported_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    store = Store(url, "kb", "paper")
    store.register("h", "kb.json")
    ev = make(
        "trade_entry",
        key="trade_entry:kb:1:entry",
        symbol="X",
        side="long",
        qty=1,
        price=1.0,
        tag="t",
    )
    store.set_position("X", 1, 1.0, events=(ev,))
    store.set_position("X", 1, 1.0, events=(ev,))  # the bar re-processed after a restart
    assert [e["type"] for e in EventLog(url, engine=store.engine).read()] == ["trade_entry"]
    with pytest.raises(ValueError, match="needs field"):
        make("trade_exit", symbol="X")
    store.close()


@pytest.fixture(scope="module")
def stored(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from mixbot.store.crashtest import run_bot

    tmp = tmp_path_factory.mktemp("svc")
    cfg = make_config(data_dir, tmp / "bots", "svc", "2019-01-15")
    url = f"sqlite:///{tmp / 'svc.sqlite'}"
    assert run_bot(cfg, url, fresh=True, cwd=tmp) == 0
    return cfg, url


def test_service_reads_trades_pnl_and_equity(stored: tuple[Path, str]) -> None:
    cfg, url = stored
    svc = BotService(database_url=url)
    rows = svc.trades([cfg])
    raw = Store(url, "svc", "paper", create=False).trades()
    assert len(rows) == len(raw) > 3
    days = svc.pnl([cfg], "day")
    per_bot = [b for b in days if b.bot_id == "svc"]
    assert sum(b.trades for b in per_bot) == len(raw)
    assert sum(b.pnl_net for b in per_bot) == pytest.approx(
        sum(t["pnl_net"] for t in raw), abs=0.05
    )
    assert [b.period for b in per_bot] == sorted({str(r["exit_time"])[:10] for r in rows})
    month = svc.pnl([cfg], "month")
    assert {b.period for b in month} == {"2019-01"}
    one_day = per_bot[0].period
    assert {r["exit_time"][:10] for r in svc.trades([cfg], date_from=one_day, date_to=one_day)} == {
        one_day
    }
    eq = svc.equity(cfg)
    assert eq[-1]["time"].endswith("+05:30") and eq[-1]["value"] > 0
    st = svc.status(cfg)
    assert st.trades_closed == len(raw) and st.status == "finished" and not st.running
    daily = [e["payload"] for e in svc.bus_events(cfg) if e["type"] == "daily_summary"]
    summary = {d["day"]: d["trades"] for d in daily}
    assert len(summary) == len(daily)  # one summary per market day
    assert all(summary.get(b.period) == b.trades for b in per_bot)
    svc.close()


def test_save_config_is_atomic_validated_and_audited(stored: tuple[Path, str]) -> None:
    cfg, url = stored
    svc = BotService(database_url=url)
    text = svc.read_config(cfg)
    with pytest.raises(ConfigError, match="not saved"):
        svc.save_config(cfg, text.replace('"RSIBBEntryMixin"', '"NoSuchMixin"'))
    assert svc.read_config(cfg) == text
    doc = json.loads(text)
    doc["description"] = "edited"
    backup = svc.save_config(cfg, json.dumps(doc), who="test")
    assert backup is not None and backup.read_text() == text
    assert json.loads(svc.read_config(cfg))["description"] == "edited"
    assert svc.audit(cfg, "config_saved")[-1]["data"]["by"] == "test"
    assert not list(cfg.parent.glob(".*.tmp"))
    svc.close()
