"""The fleet the web app serves: configs found as they appear, handed to an idle supervisor,
and the dashboard's one-word status from the stored status, the process and the heartbeat."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from rig import make_config

from mixbot.config.settings import SupervisorSettings
from mixbot.service.bots import BotService
from mixbot.service.supervisor import Supervisor
from mixbot.web.fleet import Fleet, display_status


def test_new_config_is_adopted_stopped(data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An idle supervisor starts nothing; a config written later joins it, stopped."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "bots"
    make_config(data_dir, folder, "a1", "2019-01-02")
    svc = BotService(database_url=f"sqlite:///{tmp_path / 's.sqlite'}")
    sup = Supervisor(svc.bots([folder]), SupervisorSettings(), svc, idle=True)
    fleet = Fleet(svc, [str(folder)], sup)
    assert [r.bot_id for r in fleet.refs()] == ["a1"]
    sup.step()
    assert [(c.ref.bot_id, c.state, c.proc) for c in sup.children] == [("a1", "idle", None)]
    make_config(data_dir, folder, "a2", "2019-01-02")
    assert [r.bot_id for r in fleet.refs()] == ["a1", "a2"]
    sup.step()
    assert [(c.ref.bot_id, c.state, c.proc) for c in sup.children] == [
        ("a1", "idle", None),
        ("a2", "idle", None),
    ]
    (folder / "bad.json").write_text('{"bot_id": 3}')
    rows = {r["bot_id"]: r for r in fleet.rows()}
    assert rows["bad"]["status"] == "invalid" and "bot_id" in rows["bad"]["error"]


def _st(status: str, running: bool, age: float | None = 1.0) -> SimpleNamespace:
    return SimpleNamespace(status=status, running=running, heartbeat_age_s=age)


def test_display_status() -> None:
    child = SimpleNamespace(state="running")
    assert display_status(_st("running", True), child, 30) == "running"
    assert display_status(_st("running", True, 45.0), child, 30) == "not responding"
    gone = "running? no process holds the bot's lock (killed; a restart resumes), ..."
    assert display_status(_st(gone, False), None, 30) == "crashed"
    assert display_status(_st("running", False), SimpleNamespace(state="backoff"), 30) == "crashed"
    assert display_status(_st("halted", False), SimpleNamespace(state="halted"), 30) == "halted"
    assert display_status(_st("paused", True), child, 30) == "paused"
    assert display_status(_st("never run", False, None), None, 30) == "never run"


def test_rows_are_cached_for_row_ttl_s(data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A row is read from the store at most once per row_ttl_s (the test's clock)."""
    monkeypatch.chdir(tmp_path)
    make_config(data_dir, tmp_path / "bots", "c1", "2019-01-02")
    now = [100.0]
    svc = BotService(database_url=f"sqlite:///{tmp_path / 's.sqlite'}")
    fleet = Fleet(svc, [str(tmp_path / "bots")], row_ttl_s=1.0, clock=lambda: now[0])
    reads = []
    real = svc.status
    monkeypatch.setattr(svc, "status", lambda ref: reads.append(ref.bot_id) or real(ref))
    fleet.rows()
    fleet.rows()
    assert reads == ["c1"]
    now[0] += 1.0
    fleet.rows()
    assert reads == ["c1", "c1"]
    fleet.row(fleet.get("c1"), fresh=True)
    assert len(reads) == 3


def test_a_config_fixed_later_is_adopted_and_a_missing_one_hides_nothing(
    data_dir: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "bots"
    good = make_config(data_dir, folder, "f1", "2019-01-02")
    svc = BotService(database_url=f"sqlite:///{tmp_path / 's.sqlite'}")
    sup = Supervisor(svc.bots([folder]), SupervisorSettings(), svc, idle=True)
    fleet = Fleet(svc, [str(folder)], sup)
    half = folder / "f2.json"
    half.write_text('{"bot_id": "f2", ')  # half-written
    assert [r.bot_id for r in fleet.refs()] == ["f1"]
    make_config(data_dir, folder, "f2", "2019-01-02")
    import os

    os.utime(half, (1e9, 1e9))  # a new mtime, whatever the file system's resolution
    assert [r.bot_id for r in fleet.refs()] == ["f1", "f2"]
    sup.step()
    assert [c.ref.bot_id for c in sup.children] == ["f1", "f2"]
    named = Fleet(svc, [str(good), str(tmp_path / "gone.json")])
    assert [r.bot_id for r in named.refs()] == ["f1"]  # the missing file hides nothing
    assert named.folder() == folder  # a new bot goes beside the named files
