"""`mixbot status` / `mixbot trades` read the store; daily limits survive a restart."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mixbot.cli import main
from mixbot.paths import REPO_ROOT
from mixbot.store.crashtest import run_bot, session_digest
from mixbot.store.repository import Store


def _config(data_dir: Path, tmp_path: Path, bot_id: str, to: str, **risk: object) -> Path:
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
    doc["bot_id"] = bot_id
    doc["data"].update(path=str(data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"), to=to)
    doc["risk_management"].update(risk)
    cfg = tmp_path / f"{bot_id}.json"
    cfg.write_text(json.dumps(doc))
    return cfg


@pytest.fixture()
def session(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    cfg = _config(data_dir, tmp_path, "cmds", "2019-01-04")
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    monkeypatch.setenv("MIXBOT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    assert run_bot(cfg, url, fresh=True, cwd=tmp_path) == 0
    return cfg, url


def test_status_reports_the_stored_session(
    session: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, url = session
    assert main(["status", str(cfg), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    store = Store(url, "cmds", "paper", create=False)
    ck = store.load_checkpoint()
    assert st["status"] == "finished" and st["mode"] == "paper"
    assert st["cash"] == round(ck["cash"], 2)
    assert st["last_bar_processed"]["index"] == ck["bar_index"]
    assert st["trades_closed"] == len(store.trades()) > 0
    assert st["realized_pnl_total"] == pytest.approx(
        sum(t["pnl_net"] for t in store.trades()), abs=0.01
    )
    assert st["positions"] == [] and st["open_orders"] == []
    assert st["last_bar_processed"]["time"].endswith("+05:30")
    assert main(["status", str(cfg)]) == 0
    assert "last bar processed" in capsys.readouterr().out


def test_trades_csv_matches_the_store(
    session: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, url = session
    out = tmp_path / "t.csv"
    assert main(["trades", str(cfg), "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    stored = Store(url, "cmds", "paper", create=False).trades()
    assert len(rows) == len(stored) > 0
    for r, s in zip(rows, stored):
        assert float(r["pnl_net"]) == pytest.approx(s["pnl_net"], abs=0.006)
        assert r["entry_tag"] == s["entry_tag"]
        assert r["exit_time"] == s["exit_time"].replace(tzinfo=ZoneInfo("UTC")).astimezone(
            ZoneInfo("Asia/Kolkata")
        ).isoformat(timespec="seconds")
    assert main(["trades", str(cfg)]) == 0
    assert "trades of bot cmds" in capsys.readouterr().out


def test_status_of_a_bot_that_never_ran(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = _config(data_dir, tmp_path, "never", "2019-01-02")
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'none.sqlite'}")
    assert main(["status", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "no store yet" in err and "Traceback" not in err
    assert not (tmp_path / "none.sqlite").exists()  # a read-only command creates nothing


def test_daily_trade_limit_holds_across_a_restart(data_dir: Path, tmp_path: Path) -> None:
    """max_daily_trades 1: killed just after a day's first entry filled, the restarted bot still
    takes no second entry that day (the counter comes back from the store)."""
    cfg = _config(data_dir, tmp_path, "daily", "2019-01-08", max_daily_trades=1)
    ref_url = f"sqlite:///{tmp_path / 'ref.sqlite'}"
    assert run_bot(cfg, ref_url, fresh=True, cwd=tmp_path) == 0
    ref = session_digest(ref_url, "daily")
    entries = [o for o in ref["orders"] if o[1] == "entry"]
    assert len(entries) >= 3
    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    first = True
    for e in entries[:3]:  # kill two bars after each of the first three entries
        assert run_bot(cfg, url, fresh=first, crash_at=f"{e[9] + 2}:after", cwd=tmp_path) == -9
        first = False
    assert run_bot(cfg, url, cwd=tmp_path) == 0
    got = session_digest(url, "daily")
    assert got == ref
    ist = ZoneInfo("Asia/Kolkata")
    by_day = Counter(
        o["bar_time"].replace(tzinfo=ZoneInfo("UTC")).astimezone(ist).date()
        for o in Store(url, "daily", "paper").orders()
        if o["role"] == "entry"
    )
    assert len(by_day) >= 3 and max(by_day.values()) == 1
