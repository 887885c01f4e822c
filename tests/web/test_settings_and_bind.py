"""The web section of the host settings, the public-address rule and `mixbot web passwd`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rig import settings
from werkzeug.security import check_password_hash

from mixbot.config.settings import load_settings, validate_settings_file
from mixbot.errors import ConfigError
from mixbot.web.server import check_bind


def _write(tmp_path: Path, web: dict[str, object]) -> Path:
    p = tmp_path / "mixbot.json"
    p.write_text(json.dumps({"web": web}, indent=2))
    return p


def test_issue_example_validates_and_loads(tmp_path: Path) -> None:
    web = {
        "host": "127.0.0.1",
        "port": 5000,
        "secret_key": "${MIXBOT_WEB_SECRET}",
        "users": [
            {"name": "admin", "password_hash": "${MIXBOT_WEB_ADMIN_HASH}", "role": "operator"},
            {"name": "watcher", "password_hash": "${MIXBOT_WEB_WATCHER_HASH}", "role": "viewer"},
        ],
    }
    p = _write(tmp_path, web)
    env = {"MIXBOT_WEB_ADMIN_HASH": "h", "MIXBOT_WEB_WATCHER_HASH": "h"}
    assert validate_settings_file(p, env=env).ok
    s = load_settings(p)
    assert (
        s.web.present
        and s.web.port == 5000
        and [u.role for u in s.web.users]
        == [
            "operator",
            "viewer",
        ]
    )


def test_unset_hash_is_a_warning_and_a_literal_hash_an_error(tmp_path: Path) -> None:
    p = _write(tmp_path, {"users": [{"name": "admin", "password_hash": "${NOPE_HASH}"}]})
    rep = validate_settings_file(p, env={})
    assert rep.ok and any("NOPE_HASH" in w.message for w in rep.problems)
    p = _write(tmp_path, {"users": [{"name": "admin", "password_hash": "scrypt:32768:8:1$x$y"}]})
    rep = validate_settings_file(p, env={})
    assert not rep.ok and rep.errors[0].path == "$.web.users[0].password_hash"
    line = 1 + next(i for i, ln in enumerate(p.read_text().splitlines()) if "password_hash" in ln)
    assert rep.errors[0].line == line  # at the offending line of the file


def test_public_host_needs_a_key_and_a_user(tmp_path: Path) -> None:
    p = _write(tmp_path, {"host": "0.0.0.0"})
    rep = validate_settings_file(p, env={})
    assert not rep.ok and {e.path for e in rep.errors} >= {"$.web.users"}
    web, env = settings(host="0.0.0.0")
    check_bind("0.0.0.0", web, env)  # key of 40 characters and two users: allowed
    with pytest.raises(ConfigError, match="32"):
        check_bind("0.0.0.0", web, {**env, "MIXBOT_WEB_SECRET": "short"})
    with pytest.raises(ConfigError, match="user"):
        check_bind("0.0.0.0", web, {"MIXBOT_WEB_SECRET": "k" * 40})
    check_bind("127.0.0.1", web, {})  # loopback: always allowed


def test_serve_refuses_a_public_bind_before_starting_bots(tmp_path: Path) -> None:
    p = _write(tmp_path, {"port": 5999})
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "mixbot",
            "serve",
            "--settings",
            str(p),
            "--host",
            "0.0.0.0",
            "--idle",
            str(tmp_path / "none"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert r.returncode != 0
    assert "none" in r.stderr or "refusing" in r.stderr


def test_web_passwd_prints_a_werkzeug_hash() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "mixbot", "web", "passwd", "--stdin"],
        input="correct horse\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0
    assert check_password_hash(r.stdout.strip(), "correct horse")
    r = subprocess.run(
        [sys.executable, "-m", "mixbot", "web", "passwd", "--stdin"],
        input="short\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "8 characters" in r.stderr


def test_sigterm_right_after_the_web_gui_is_up_stops_cleanly(
    data_dir: Path, tmp_path: Path
) -> None:
    """A SIGTERM as soon as `mixbot serve` says the GUI listens ends it cleanly (exit 0),
    not by Python's default signal action."""
    import os
    import signal

    from rig import make_config

    make_config(data_dir, tmp_path / "bots", "s1", "2019-01-02")
    p = _write(tmp_path, {"port": 5000})
    env = {**os.environ, "MIXBOT_DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite'}"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mixbot",
            "serve",
            "--idle",
            "--settings",
            str(p),
            "--port",
            "0",
            "bots/",
        ],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # blocks until the line comes (or the process ends)
            if "web GUI at http://127.0.0.1:" in line:
                break
        else:
            pytest.fail("mixbot serve ended before serving the GUI")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
