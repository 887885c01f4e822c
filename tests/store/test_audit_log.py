"""The hash-chained audit log: what a session writes to it, `mixbot audit export/verify`,
tamper detection (edited, deleted, newest rows deleted), the append-only trigger, the chain
of two writers at once, and the chaining of rows migrated from an older schema."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.exc import DBAPIError

from mixbot.paths import REPO_ROOT
from mixbot.service.bots import BotService
from mixbot.store import audit
from mixbot.store import models as m
from mixbot.store.crashtest import run_bot
from mixbot.store.repository import Store

BOT = "audit1"


def _mixbot(*args: str, cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env_cmd = [sys.executable, "-m", "mixbot", *args]
    import os

    env = {**os.environ, "MIXBOT_DATABASE_URL": url}
    return subprocess.run(env_cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def session(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """A replayed 1-minute BANKNIFTY session on real data (config 0003, 2019-01-01 to
    2019-01-03) in a store of its own: (config, store URL, work folder)."""
    work = tmp_path_factory.mktemp("audit")
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
    doc["bot_id"] = BOT
    doc["data"].update(path=str(data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"), to="2019-01-03")
    cfg = work / f"{BOT}.json"
    cfg.write_text(json.dumps(doc))
    url = f"sqlite:///{work / 'store.sqlite'}"
    assert run_bot(cfg, url, fresh=True, cwd=work) == 0
    return cfg, url, work


def _copy(session: tuple[Path, str, Path], tmp_path: Path) -> str:
    """A copy of the session's database (tests that tamper with it)."""
    import shutil

    src = Path(session[1].removeprefix("sqlite:///"))
    dst = tmp_path / "copy.sqlite"
    shutil.copy(src, dst)
    return f"sqlite:///{dst}"


def test_session_writes_every_order_decision_once_and_chained(
    session: tuple[Path, str, Path],
) -> None:
    cfg, url, _ = session
    s = Store(url, BOT, "paper", create=False)
    try:
        rows, fills, orders, trades = s.events(), s.fills(), s.orders(), s.trades()
        verdict = audit.verify(rows, s.bot_row())
    finally:
        s.close()
    assert trades, "the replayed days must trade (else this test checks nothing)"
    assert verdict.ok and verdict.rows == len(rows)
    assert [r["chain_seq"] for r in rows] == list(range(1, len(rows) + 1))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r)
    # every order: its intent, then at least one status change; every fill exactly once
    sent = [r["data"]["tag"] for r in by_kind["order_sent"]]
    assert sorted(sent) == sorted(o["tag"] for o in orders)
    status_tags = {r["data"]["tag"] for r in by_kind["order_status"]}
    assert status_tags == {o["tag"] for o in orders}
    audited_fills = sorted(
        (r["data"]["tag"], r["data"]["seq"], r["data"]["qty"], r["data"]["price"])
        for r in by_kind["fill"]
    )
    assert audited_fills == sorted((f["order_tag"], f["seq"], f["qty"], f["price"]) for f in fills)
    # each entry was decided on a signal row of the same bar, just before its intent
    for r in by_kind["order_sent"]:
        if r["data"]["tag"].endswith(":entry"):
            before = rows[r["chain_seq"] - 2]
            assert before["kind"] == "signal" and before["bar_time"] == r["bar_time"]
    # the protective order a stop/target fill cancels is audited as a cancel request
    assert len(by_kind["cancel_requested"]) >= len(trades) - 1


def test_export_and_verify_from_the_command_line(
    session: tuple[Path, str, Path], tmp_path: Path
) -> None:
    cfg, url, work = session
    out = tmp_path / "day.json"
    r = _mixbot("audit", "export", str(cfg), "--date", "2019-01-02", "--format", "json",
                "--out", str(out), cwd=work, url=url)  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["bot_id"] == BOT and doc["chain_intact"] is True and doc["rows"]
    # only that exchange day's bars; each row's hash recomputes from the exported fields
    for row in doc["rows"]:
        assert row["bar_time"] is None or row["bar_time"].startswith("2019-01-02")
        h = audit.row_digest(
            BOT,
            "paper",
            row["chain_seq"],
            row["kind"],
            row["message"],
            row["data"],
            _t(row["bar_time"]),
            _t(row["created_at"]),
            row["prev_hash"],
        )
        assert h == row["row_hash"]
    seqs = [row["chain_seq"] for row in doc["rows"]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    csv_out = tmp_path / "day.csv"
    r = _mixbot("audit", "export", str(cfg), "--date", "2019-01-02", "--out", str(csv_out),
                cwd=work, url=url)  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = csv_out.read_text().splitlines()
    assert lines[0].startswith("bot_id,mode,chain_seq,at,created_at,kind")
    assert len(lines) == len(doc["rows"]) + 1
    r = _mixbot("audit", "verify", str(cfg), cwd=work, url=url)
    assert r.returncode == 0, r.stderr
    assert "audit log intact" in r.stdout


def _t(v: str | None) -> dt.datetime | None:
    return None if v is None else dt.datetime.fromisoformat(v)


def _tamper(url: str, stmt: Any) -> None:
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("DROP TRIGGER events_append_only"))  # what a tamperer would do first
        c.execute(stmt)
    engine.dispose()


@pytest.mark.parametrize("how", ["edit", "delete_middle", "delete_newest"])
def test_verify_names_the_first_bad_row(
    session: tuple[Path, str, Path], tmp_path: Path, how: str
) -> None:
    cfg, _, work = session
    url = _copy(session, tmp_path)
    s = Store(url, BOT, "paper", create=False)
    rows = s.events()
    s.close()
    fill = next(r for r in rows if r["kind"] == "fill")
    E = m.events.c
    if how == "edit":  # a fill's price made better after the fact
        _tamper(url, update(m.events).where(E.id == fill["id"]).values(message="fill @ 1.00"))
        expect = [f"row id {fill['id']}", "edited"]
    elif how == "delete_middle":
        _tamper(url, delete(m.events).where(E.id == fill["id"]))
        nxt = rows[fill["chain_seq"]]  # the row after it
        expect = [f"row id {nxt['id']}", "deleted"]
    else:
        _tamper(url, delete(m.events).where(E.id > rows[-3]["id"]))
        expect = ["newest 2 were deleted"]
    r = _mixbot("audit", "verify", str(cfg), cwd=work, url=url)
    assert r.returncode == 1
    for part in expect:
        assert part in r.stderr, r.stderr
    r = _mixbot(
        "audit", "export", str(cfg), "--date", "2019-01-01", "--out", "-", cwd=work, url=url
    )
    assert r.returncode == 1 and "the audit chain is broken" in r.stderr


def test_audit_rows_cannot_be_updated(store_url: str) -> None:
    s = Store(store_url, "b", "paper")
    try:
        s.register("h", "c.json")
        s.event("halt", "max_daily_loss reached")
        with pytest.raises(DBAPIError, match="append-only"), s.engine.begin() as c:
            c.execute(update(m.events).values(message="nothing happened"))
        assert s.events()[0]["message"] == "max_daily_loss reached"
        assert audit.verify(s.events(), s.bot_row()).ok
    finally:
        s.close()


def test_two_writers_of_one_bot_never_fork_the_chain(store_url: str) -> None:
    """The bot and `mixbot panic` (two connections) appending at once: one chain."""
    a, b = Store(store_url, "b", "live"), Store(store_url, "b", "live")
    try:
        a.register("h", "c.json")
        errors: list[BaseException] = []

        def write(s: Store, who: str) -> None:
            try:
                for i in range(40):
                    s.event("command", f"{who} {i}")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(s, w)) for s, w in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        rows = a.events()
        assert len(rows) == 80
        v = audit.verify(rows, a.bot_row())
        assert v.ok, v.reason
    finally:
        a.close()
        b.close()


def test_rows_of_an_older_schema_are_chained_by_the_migration(tmp_path: Path) -> None:
    from alembic import command

    from mixbot.store.db import _alembic_config

    db = tmp_path / "old.sqlite"
    old = create_engine(f"sqlite:///{db}")
    with old.begin() as conn:
        command.upgrade(_alembic_config(conn), "0004")
        conn.execute(
            text(
                "INSERT INTO bots (id, bot_id, mode, config_hash, config_file, status, created_at, "
                "updated_at) VALUES (1, 'old', 'paper', 'h', 'c.json', 'finished', "
                "'2024-01-02 03:04:05', '2024-01-02 03:04:05')"
            )
        )
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO events (bot_pk, kind, message, data, created_at) VALUES "
                    f"(1, 'order_sent', 'BUY {i}', '{{\"tag\": \"t{i}\"}}', '2024-01-02 03:04:0{i}')"
                )
            )
    old.dispose()
    s = Store(f"sqlite:///{db}", "old", "paper")
    try:
        s.event("restart", "after the upgrade")
        rows = s.events()
        assert [r["chain_seq"] for r in rows] == [1, 2, 3, 4]
        assert rows[0]["prev_hash"] == audit.GENESIS
        assert audit.verify(rows, s.bot_row()).ok
    finally:
        s.close()


def test_operator_command_names_its_user(tmp_path: Path) -> None:
    """`mixbot stop` from the CLI carries the OS user; the bot's audit row names it."""
    import logging

    from mixbot.engine.control import Controls, ControlThread

    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    cfg = tmp_path / "b1.json"
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
    doc["bot_id"] = "b1"
    cfg.write_text(json.dumps(doc))
    s = Store(url, "b1", "paper")
    s.register("h", str(cfg))
    svc = BotService(database_url=url)
    try:
        svc.send(cfg, "pause", user="alice")
        controls = Controls()
        bell = tmp_path / "bell"
        ControlThread(s, controls, lambda: None, bell, logging.getLogger("t")).poll()
        assert controls.paused  # the bot's control thread took it
        row = s.events("command")[-1]
    finally:
        svc.close()
        s.close()
    assert row["data"]["user"] == "alice" and "user alice" in row["message"]
