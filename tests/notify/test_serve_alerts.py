"""`mixbot serve` with a settings file: a replayed session's trades arrive as Telegram
messages (real python-telegram-bot -> local Bot API server) and emails (real smtplib ->
local aiosmtpd with STARTTLS and AUTH); no secret reaches any log file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.notify.bot_api import TOKEN, BotApiServer
from tests.notify.smtp_peer import PASSWORD, USER, SmtpPeer
from tests.service.conftest import make_config

from mixbot.store.repository import Store

HANG_GUARD_S = 600


@pytest.fixture()
def peers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[BotApiServer, SmtpPeer]]:
    api, smtp = BotApiServer(), SmtpPeer(tmp_path)
    monkeypatch.setenv("MIXBOT_TELEGRAM_API", api.start())
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca_file))
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    smtp.start()
    yield api, smtp
    smtp.stop()
    api.stop()


def _settings(path: Path, smtp_port: int) -> Path:
    doc = {
        "telegram": {
            "enabled": True,
            "bot_token": "${TELEGRAM_BOT_TOKEN}",
            "users": [{"id": 111, "role": "operator"}, {"id": 222, "role": "viewer"}],
        },
        "email": {
            "enabled": True,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "security": "starttls",
            "smtp_user": "${SMTP_USER}",
            "smtp_password": "${SMTP_PASSWORD}",
            "from": "bots@example.test",
            "to": ["me@example.test"],
        },
    }
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_serve_delivers_each_trade_once_by_telegram_and_email(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    peers: tuple[BotApiServer, SmtpPeer],
) -> None:
    api, smtp = peers
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    monkeypatch.setenv("MIXBOT_DATABASE_URL", url)
    cfg = make_config(data_dir, tmp_path / "bots", "tg1", "2019-01-04")
    doc = json.loads(cfg.read_text())
    doc["notifications"] = {
        "enabled": True,
        "telegram": {"enabled": True, "notify_on": ["trade_entry", "trade_exit", "bot_stopped"]},
        "email": {"enabled": True, "notify_on": {"trade_entry": "on", "trade_exit": "on"}},
    }
    cfg.write_text(json.dumps(doc))
    settings = _settings(tmp_path / "mixbot.json", smtp.port)
    check = subprocess.run(
        [sys.executable, "-m", "mixbot", "validate", str(settings)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "mixbot", "serve", "--settings", str(settings), "--fresh", str(cfg)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    trades = Store(url, "tg1", "paper").trades()
    assert len(trades) >= 2
    for chat in (111, 222):
        texts = [str(c.params["text"]) for c in api.sent() if int(c.params["chat_id"]) == chat]
        assert len(texts) == 2 * len(trades) + 1, texts
        for t, entry, exit_ in zip(trades, texts[0::2], texts[1::2]):
            assert f"{t['symbol']}: entry {t['qty']:,.0f} @ INR {t['entry_price']:,.2f}" in entry
            assert f"net PnL INR {t['pnl_net']:,.2f}" in exit_
        assert "stopped (finished)" in texts[-1]
    subjects = [r.message["Subject"] for r in smtp.received]
    assert len(subjects) == 2 * len(trades)
    assert [("entry" in s) for s in subjects] == [True, False] * len(trades)
    logs = [
        p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".log", ".jsonl", ".json")
    ]
    logs.append(tmp_path / "serve-output.txt")
    (tmp_path / "serve-output.txt").write_text(proc.stdout + proc.stderr)
    for p in logs:
        text = p.read_text(errors="replace")
        assert TOKEN not in text and PASSWORD not in text, p


def test_serve_answers_status_from_an_operator_and_refuses_a_stranger(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    peers: tuple[BotApiServer, SmtpPeer],
) -> None:
    import signal
    import time

    from tests.notify.bot_api import command_update

    api, smtp = peers
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    cfg = make_config(data_dir, tmp_path / "bots", "tg2", "2019-01-02")
    settings = _settings(tmp_path / "mixbot.json", smtp.port)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mixbot",
            "serve",
            "--forever",
            "--settings",
            str(settings),
            str(cfg),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + HANG_GUARD_S

        def replies(chat: int) -> list[str]:
            return [str(c.params["text"]) for c in api.sent() if int(c.params["chat_id"]) == chat]

        while not api.sent("setMyCommands"):
            assert proc.poll() is None and time.monotonic() < deadline, "poller never started"
            time.sleep(0.02)
        api.push_update(command_update(999, "/status"))
        api.push_update(command_update(111, "/status"))
        while len(replies(111)) < 1 or len(replies(999)) < 1:
            assert proc.poll() is None and time.monotonic() < deadline, "no answer"
            time.sleep(0.02)
        assert replies(999) == ["Not authorised."]
        (status,) = replies(111)
        assert status.startswith("<b>tg2</b> <i>paper</i>")
        assert "status" in status and "cash" in status
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 0, out
    audit = (tmp_path / "logs" / "audit" / "telegram.jsonl").read_text().splitlines()
    assert [json.loads(a)["outcome"] for a in audit] == ["refused: not authorised", "ok"]
