"""Kill-and-restart harness: run a paper bot in a subprocess, SIGKILL it, restart it, compare.

Used by the crash tests (``tests/engine/test_crash_recovery.py``) and by
``benchmarks/crash_kill.py`` (100 kills). Kill points are either injected
(``MIXBOT_CRASH_AT=<bar>:<stage>``, the process SIGKILLs itself exactly there; see
:mod:`mixbot.strategy.persistence`) or external (the parent sends SIGKILL after a random
delay), so both "at a precise point of the write-ahead sequence" and "anywhere" are covered.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixbot.store.digest import compare, digest
from mixbot.store.repository import Store

STAGES = ("intent", "fill", "checkpoint", "after")


@dataclass
class KillReport:
    """What a kill-and-restart session did and found."""

    kills: int = 0
    injected: int = 0
    external: int = 0
    restarts: int = 0
    comparison: dict[str, Any] = field(default_factory=dict)


def _checkpoint_bar(db_path: Path, bot_id: str) -> int:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=0.05)
        try:
            row = con.execute(
                "SELECT c.bar_index FROM checkpoints c JOIN bots b ON b.id = c.bot_pk "
                "WHERE b.bot_id = ? AND b.mode = 'paper'",
                (bot_id,),
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return -1
    return -1 if row is None else int(row[0])


def run_bot(
    config: Path,
    db_url: str,
    *,
    fresh: bool = False,
    crash_at: str | None = None,
    kill_at_bar: int | None = None,
    bot_id: str = "",
    cwd: Path | None = None,
    timeout: float = 600,
) -> int:
    """Run ``mixbot run CONFIG`` in a subprocess; returns its exit code (-9 when killed).

    ``crash_at`` sets ``MIXBOT_CRASH_AT`` (the bot kills itself there). ``kill_at_bar`` makes
    THIS process send SIGKILL as soon as it sees the bot's checkpoint at or past that bar
    (polled every few milliseconds from the SQLite file, so the kill lands at an arbitrary
    point of the bot's work).
    """
    env = dict(os.environ, MIXBOT_DATABASE_URL=db_url)
    env.pop("MIXBOT_CRASH_AT", None)
    if crash_at:
        env["MIXBOT_CRASH_AT"] = crash_at
    cmd = [sys.executable, "-m", "mixbot", "run", str(config), "--no-progress"] + (
        ["--fresh"] if fresh else []
    )
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if kill_at_bar is not None:
        db_path = Path(db_url.removeprefix("sqlite:///"))
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            if _checkpoint_bar(db_path, bot_id) >= kill_at_bar:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    if proc.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(
            f"bot exited with {proc.returncode}: {err.decode(errors='replace')[-2000:]}"
        )
    return proc.returncode


def session_digest(db_url: str, bot_id: str) -> dict[str, Any]:
    """The digest of a stored paper session."""
    store = Store(db_url, bot_id, "paper", create=False)
    try:
        return digest(store)
    finally:
        store.close()


def kill_points(
    reference: dict[str, Any],
    n: int,
    rng: random.Random,
    external_share: float = 0.3,
    gap: int = 25,
    ext_gap: int = 60,
) -> list[tuple[int, str]]:
    """``n`` kill points ``(bar, stage)`` at strictly increasing bars, ``gap`` bars apart at least.

    About half land where the write-ahead sequence is delicate (an order intent's bar at stage
    ``intent``; a fill's bar at ``fill`` or ``checkpoint``), the rest at random bars and stages;
    ``external_share`` of them become ``external`` (the parent kills the bot when its checkpoint
    reaches the bar; ``ext_gap`` bars are kept clear around those, since the kill overshoots).
    Raises ValueError when the session is too short for ``n`` points.
    """
    last_bar = reference["checkpoint"][0]
    if (n + 1) * gap > last_bar:
        raise ValueError(
            f"session of {last_bar + 1} bars is too short for {n} kill points {gap} bars apart"
        )
    by_time = {t: i for i, t, _c, _v in reference["equity"]}
    special = [(o[9], "intent") for o in reference["orders"]]
    special += [
        (by_time[f[6]], rng.choice(("fill", "checkpoint")))
        for f in reference["fills"]
        if f[6] in by_time
    ]
    rng.shuffle(special)
    # a random bar always has a checkpoint, but an intent or a fill only where the session had one
    randoms = [
        (rng.randrange(gap, last_bar - gap), rng.choice(("checkpoint", "after")))
        for _ in range(40 * n)
    ]
    candidates = special[:n] + randoms
    chosen: list[tuple[int, str]] = []

    def fits(bar: int, stage: str) -> bool:
        # an external kill overshoots its bar by a few bars: keep clear of what follows it
        for b, st in chosen:
            need = max(gap, ext_gap) if "external" in (st, stage) else gap
            if abs(bar - b) < need:
                return False
        return gap <= bar <= last_bar - gap

    n_ext = round(n * external_share)
    for bar, _stage in randoms:  # external kills first: they need the most room
        if len(chosen) == n_ext:
            break
        if fits(bar, "external"):
            chosen.append((bar, "external"))
    for bar, stage in candidates:
        if len(chosen) == n:
            break
        if fits(bar, stage):
            chosen.append((bar, stage))
    if len(chosen) < n:
        raise ValueError(
            f"could only place {len(chosen)} of {n} kill points in {last_bar + 1} bars"
        )
    return sorted(chosen)


def kill_session(
    config: Path,
    workdir: Path,
    bot_id: str,
    *,
    kills: int,
    seed: int = 1,
    external_share: float = 0.3,
    log: Any = None,
) -> KillReport:
    """Run the reference session, then the same session killed ``kills`` times and finished.

    Returns the tally and the comparison of the two stored sessions (equal, duplicate
    orders, lost fills).
    """
    rng = random.Random(seed)
    ref_url = f"sqlite:///{workdir / 'reference.sqlite'}"
    run_bot(config, ref_url, fresh=True, cwd=workdir)
    ref = session_digest(ref_url, bot_id)
    url = f"sqlite:///{workdir / 'killed.sqlite'}"
    report = KillReport()
    t0 = time.monotonic()
    for n, (bar, stage) in enumerate(kill_points(ref, kills, rng, external_share)):
        if stage == "external":
            rc = run_bot(config, url, fresh=n == 0, kill_at_bar=bar, bot_id=bot_id, cwd=workdir)
        else:
            rc = run_bot(config, url, fresh=n == 0, crash_at=f"{bar}:{stage}", cwd=workdir)
        report.restarts += 1
        if rc == -signal.SIGKILL:
            report.kills += 1
            report.external += stage == "external"
            report.injected += stage != "external"
        if log:
            state = "killed" if rc else "FINISHED (no kill)"
            log(
                f"  {n + 1:3d}. bar {bar:6d} {stage:10s} -> {state}  ({time.monotonic() - t0:6.1f} s)"
            )
    run_bot(config, url, cwd=workdir)
    report.comparison = compare(ref, session_digest(url, bot_id))
    return report
