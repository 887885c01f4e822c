"""Host settings: the telegram, email and notifications sections (schema, secrets, typed)."""

from __future__ import annotations

import json
from pathlib import Path

from mixbot.config.settings import load_settings, validate_settings_file

ISSUE_EXAMPLE = {
    "telegram": {
        "enabled": True,
        "bot_token": "${TELEGRAM_BOT_TOKEN}",
        "users": [{"id": 111, "role": "operator"}, {"id": 222, "role": "viewer"}],
    },
    "email": {
        "enabled": True,
        "smtp_host": "smtp.example.com",
        "smtp_port": 587,
        "security": "starttls",
        "smtp_user": "${SMTP_USER}",
        "smtp_password": "${SMTP_PASSWORD}",
        "from": "bots@example.com",
        "to": ["me@example.com"],
        "daily_summary_at": "16:00",
    },
}
ENV = {"TELEGRAM_BOT_TOKEN": "1:t", "SMTP_USER": "u", "SMTP_PASSWORD": "p"}


def _write(tmp_path: Path, doc: dict) -> Path:  # type: ignore[type-arg]
    p = tmp_path / "mixbot.json"
    p.write_text(json.dumps(doc, indent=2))
    return p


def test_the_documented_settings_are_valid_and_typed(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    path = _write(tmp_path, ISSUE_EXAMPLE)
    assert validate_settings_file(path, env=ENV).problems == []
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    s = load_settings(path)
    assert [(u.id, u.role) for u in s.telegram.users] == [(111, "operator"), (222, "viewer")]
    assert s.telegram.bot_token == "${TELEGRAM_BOT_TOKEN}"  # resolved only where it is used
    assert (s.email.smtp_host, s.email.security, s.email.sender) == (
        "smtp.example.com",
        "starttls",
        "bots@example.com",
    )
    assert s.email.to == ("me@example.com",) and s.notifications.give_up_after_hours == 24


def test_unset_secrets_are_named_never_shown(tmp_path: Path) -> None:
    path = _write(tmp_path, ISSUE_EXAMPLE)
    report = validate_settings_file(path, env={"SMTP_USER": "u"})
    by_path = {p.path: p for p in report.errors}
    assert "TELEGRAM_BOT_TOKEN" in by_path["$.telegram.bot_token"].message
    assert "SMTP_PASSWORD" in by_path["$.email.smtp_password"].message
    assert "$.email.smtp_user" not in by_path
    assert by_path["$.telegram.bot_token"].line == 4


def test_bad_values_name_the_field(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(ISSUE_EXAMPLE))
    doc["email"]["security"] = "tls"
    doc["telegram"]["users"][1]["role"] = "admin"
    doc["telegram"]["bot_token"] = "123:literal-token"
    doc["email"]["to"] = []
    report = validate_settings_file(_write(tmp_path, doc), env=ENV)
    paths = {p.path for p in report.errors}
    assert {"$.email.security", "$.telegram.users[1].role", "$.telegram.bot_token"} <= paths
    assert all("literal-token" not in p.render() for p in report.problems)
    doc = json.loads(json.dumps(ISSUE_EXAMPLE))
    doc["email"]["to"] = []
    report = validate_settings_file(_write(tmp_path, doc), env=ENV)
    assert [p.path for p in report.errors] == ["$.email"]
    assert "no recipients" in report.errors[0].message


def test_disabled_channels_need_no_secret(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(ISSUE_EXAMPLE))
    doc["telegram"]["enabled"] = False
    doc["email"]["enabled"] = False
    assert validate_settings_file(_write(tmp_path, doc), env={}).problems == []
