"""`mixbot serve`: bots side by side in their own processes, kill -9 of a bot and of the
supervisor, the per-bot lock, the circuit breaker. Real processes, real data, no sleeps
that decide an outcome: waits poll the store and only guard against hangs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.service.conftest import make_config

from mixbot.service.locks import BotLock
from mixbot.store.crashtest import run_bot, session_digest

HANG_GUARD_S = 600  # only a hung test trips this


def _serve(workdir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mixbot", "serve", *args],
        cwd=workdir,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _query(db: Path, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []


def _checkpoint(db: Path, bot_id: str) -> int:
    rows = _query(
        db,
        "SELECT c.bar_index FROM checkpoints c JOIN bots b ON b.id = c.bot_pk WHERE b.bot_id = ?",
        bot_id,
    )
    return int(rows[0][0]) if rows else -1


def _wait(pred, proc: subprocess.Popen[str]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + HANG_GUARD_S
    while not pred():
        assert proc.poll() is None, (
            f"mixbot serve ended early:\n{proc.stdout.read() if proc.stdout else ''}"
        )
        assert time.monotonic() < deadline, "hang guard"
        time.sleep(0.005)


def _references(configs: list[Path], workdir: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    out = {}
    for cfg in configs:
        url = f"sqlite:///{workdir / f'ref-{cfg.stem}.sqlite'}"
        assert run_bot(cfg, url, fresh=True, cwd=workdir) == 0
        out[cfg.stem] = session_digest(url, cfg.stem)
    return out


@pytest.fixture()
def two_bots(data_dir: Path, workdir: Path) -> list[Path]:
    bots = workdir / "bots"
    return [
        make_config(data_dir, bots, "sva", "2019-01-08"),
        make_config(data_dir, bots, "svb", "2019-01-04"),
    ]


def test_serve_runs_bots_side_by_side_like_run_alone(two_bots: list[Path], workdir: Path) -> None:
    refs = _references(two_bots, workdir)
    proc = _serve(workdir, "--fresh", str(workdir / "bots"))
    out, _ = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 0, out
    url = os.environ["MIXBOT_DATABASE_URL"]
    for cfg in two_bots:
        got = session_digest(url, cfg.stem)
        assert got == refs[cfg.stem], f"{cfg.stem}: the served session differs from `mixbot run`"
        assert len(got["trades"]) > 0
        assert (workdir / "logs" / cfg.stem / "bot.log").exists()
        assert (workdir / "logs" / cfg.stem / "events.jsonl").exists()
    res = subprocess.run(
        [sys.executable, "-m", "mixbot", "status", "--json", *map(str, two_bots)],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    statuses = json.loads(res.stdout)
    assert [s["bot_id"] for s in statuses] == ["sva", "svb"]
    pids = {s["pid"] for s in statuses}
    assert len(pids) == 2 and all(isinstance(p, int) and p != os.getpid() for p in pids)
    assert all(s["status"] == "finished" and s["last_heartbeat"] for s in statuses)


def test_kill_9_of_one_bot_is_restarted_and_resumes(two_bots: list[Path], workdir: Path) -> None:
    refs = _references(two_bots, workdir)
    db = workdir / "store.sqlite"
    proc = _serve(workdir, "--fresh", *map(str, two_bots))
    _wait(lambda: _checkpoint(db, "sva") >= 400, proc)
    pid = int(_query(db, "SELECT pid FROM bots WHERE bot_id = 'sva'")[0][0])
    os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 0, out
    assert "sva: died (signal 9); restart #1" in out
    url = os.environ["MIXBOT_DATABASE_URL"]
    for cfg in two_bots:
        assert session_digest(url, cfg.stem) == refs[cfg.stem], cfg.stem
    started = Counter(
        r[0] for r in _query(db, "SELECT bot_id FROM outbox WHERE type = 'bot_started'")
    )
    assert started == {"sva": 2, "svb": 1}  # the other bot was untouched
    exits = _query(db, "SELECT key FROM outbox WHERE type = 'trade_exit' AND bot_id = 'sva'")
    assert len(exits) == len(set(exits)) == len(refs["sva"]["trades"])  # each fact once


def test_kill_9_of_the_supervisor_then_serve_again(two_bots: list[Path], workdir: Path) -> None:
    refs = _references(two_bots, workdir)
    db = workdir / "store.sqlite"
    first = _serve(workdir, "--fresh", *map(str, two_bots))
    _wait(lambda: min(_checkpoint(db, "sva"), _checkpoint(db, "svb")) >= 300, first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=HANG_GUARD_S)
    # the kernel sends SIGTERM to its bots (PR_SET_PDEATHSIG); a new supervisor at once must
    # not run a second copy of a bot that is still finishing its bar
    second = _serve(workdir, *map(str, two_bots))
    out, _ = second.communicate(timeout=HANG_GUARD_S)
    assert second.returncode == 0, out
    url = os.environ["MIXBOT_DATABASE_URL"]
    for cfg in two_bots:
        got = session_digest(url, cfg.stem)
        assert got == refs[cfg.stem], f"{cfg.stem}: duplicate or lost orders after the restart"
        tags = [o[0] for o in got["orders"]]
        assert len(tags) == len(set(tags))


def test_a_second_process_of_a_running_bot_refuses(two_bots: list[Path], workdir: Path) -> None:
    lock = BotLock(os.environ["MIXBOT_DATABASE_URL"], "sva", "paper")
    lock.acquire()  # this test process stands for a running bot
    try:
        cmd = [sys.executable, "-m", "mixbot", "run", str(two_bots[0]), "--no-progress"]
        res = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
        assert res.returncode == 2
        assert f"already running in process {os.getpid()}" in res.stderr
        assert "Traceback" not in res.stderr
        sup = subprocess.run(
            [*cmd, "--supervised"],
            cwd=workdir,
            capture_output=True,
            text=True,
            env={**os.environ, "MIXBOT_SUPERVISOR_PID": str(os.getpid())},
        )
        assert sup.returncode == 75  # the supervisor waits and retries, counts no failure
    finally:
        lock.release()
    assert lock.holder() is None


def test_circuit_breaker_halts_a_bot_that_keeps_dying(data_dir: Path, workdir: Path) -> None:
    from mixbot.config.settings import SupervisorSettings
    from mixbot.service.bots import BotService
    from mixbot.service.supervisor import Supervisor

    cfg = make_config(data_dir, workdir / "bots", "dies", "2019-01-03")
    svc = BotService()
    settings = SupervisorSettings(restart_backoff_s=0.05, restart_backoff_max_s=0.1, max_failures=3)
    seen: list[str] = []
    sup = Supervisor(
        [svc.ref(cfg)],
        settings,
        svc,
        fresh=True,
        extra_env={"MIXBOT_CRASH_AT": "0+:after"},  # dies after its first bar, every time
        on_change=lambda c, text: seen.append(text),
    )
    assert sup.run(poll_s=0.02) == 1
    child = sup.children[0]
    assert child.state == "halted" and "circuit breaker: 3 failures" in child.reason
    assert sum("; restart #" in s for s in seen) == 2  # two restarts, then the breaker
    assert seen[-1].startswith("HALTED: circuit breaker") and "died (signal 9)" in seen[-1]
    db = workdir / "store.sqlite"
    errors = [r[0] for r in _query(db, "SELECT payload FROM outbox WHERE type = 'error'")]
    assert any("circuit breaker" in e for e in errors)
    assert _query(db, "SELECT status FROM bots WHERE bot_id = 'dies'") == [("halted",)]
    svc.close()


def test_a_bot_whose_heartbeat_is_old_is_killed_as_hung(data_dir: Path, workdir: Path) -> None:
    """The hang check on a real process: heartbeat older than hang_after_s -> SIGKILL and a
    restart after the backoff; a fresh heartbeat leaves the process alone. The supervisor's
    clock is the test's; the heartbeats are written as a bot's control thread writes them
    (the time its engine loop last turned over)."""
    import datetime as dt

    from mixbot.config.settings import SupervisorSettings
    from mixbot.service.bots import BotService
    from mixbot.service.supervisor import Supervisor
    from mixbot.store.repository import Store, utcnow

    cfg = make_config(data_dir, workdir / "bots", "stuck", "2019-01-03")
    svc = BotService()
    ref = svc.ref(cfg)
    store = Store(os.environ["MIXBOT_DATABASE_URL"], "stuck", ref.mode)
    store.register("hash", str(cfg))
    now = [1000.0]
    sup = Supervisor([ref], SupervisorSettings(hang_after_s=60.0), svc, clock=lambda: now[0])
    child = sup.children[0]
    sleeper = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    try:
        child.proc, child.state, child.started_at = sleeper, "running", now[0] - 300.0
        store.heartbeat(utcnow() - dt.timedelta(seconds=5))  # alive 5 s ago
        sup._check_hangs(now[0])
        assert child.proc is sleeper and sleeper.poll() is None
        store.heartbeat(utcnow() - dt.timedelta(seconds=90))  # its engine stopped 90 s ago
        sup._check_hangs(now[0])
        assert child.proc is None and sleeper.poll() == -signal.SIGKILL
        assert child.state == "backoff" and child.next_start > now[0]
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
