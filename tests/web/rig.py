"""A web app over two replay bots in a temporary folder, for the API tests (no server: the
Flask test client). ``Rig.token(user)`` logs in through the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixbot.config.settings import WebSettings, WebUser
from mixbot.paths import REPO_ROOT
from mixbot.web.users import hash_password

PASSWORDS = {"admin": "adminpass1", "watcher": "watchpass1"}


def make_config(data_dir: Path, folder: Path, bot_id: str, to: str) -> Path:
    """config/trading/0003.json (BANKNIFTY 1-minute replay) as bot ``bot_id`` up to ``to``."""
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
    doc["bot_id"] = bot_id
    doc["data"].update(path=str(data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"), to=to)
    doc.pop("logging", None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bot_id}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def settings(**extra: Any) -> tuple[WebSettings, dict[str, str]]:
    """Web settings with an operator ``admin`` and a viewer ``watcher``, and their env."""
    env = {
        "MIXBOT_WEB_ADMIN_HASH": hash_password(PASSWORDS["admin"]),
        "MIXBOT_WEB_WATCHER_HASH": hash_password(PASSWORDS["watcher"]),
        "MIXBOT_WEB_SECRET": "k" * 40,
    }
    users = (
        WebUser("admin", "${MIXBOT_WEB_ADMIN_HASH}", "operator"),
        WebUser("watcher", "${MIXBOT_WEB_WATCHER_HASH}", "viewer"),
    )
    return WebSettings(users=users, present=True, **extra), env


@dataclass
class Rig:
    """The app, its test client and the folder (cwd) it runs in."""

    app: Any
    client: Any
    folder: Path
    configs: Path

    def token(self, user: str = "admin") -> dict[str, str]:
        """Bearer headers of ``user`` (logged in through POST /api/v1/auth/token)."""
        r = self.client.post(
            "/api/v1/auth/token", json={"username": user, "password": PASSWORDS[user]}
        )
        assert r.status_code == 200, r.json
        return {"Authorization": f"Bearer {r.json['access_token']}"}


def build(folder: Path, data_dir: Path, run_first: bool = True, **web: Any) -> Rig:
    """Two replay bots ``r1`` (ran to 2019-01-10 when ``run_first``) and ``r2`` (never run)
    under ``folder`` (the caller chdirs there), one SQLite store, and the app over them."""
    from mixbot.service.bots import BotService
    from mixbot.web.app import create_app
    from mixbot.web.fleet import Fleet

    configs = folder / "bots"
    r1 = make_config(data_dir, configs, "r1", "2019-01-10")
    make_config(data_dir, configs, "r2", "2019-01-04")
    url = f"sqlite:///{folder / 'store.sqlite'}"
    if run_first:
        env = {**os.environ, "MIXBOT_DATABASE_URL": url}
        subprocess.run(
            [sys.executable, "-m", "mixbot", "run", str(r1), "--no-progress"],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
    svc = BotService(database_url=url, jobs_root=folder / "jobs")
    web_settings, env = settings(**web)
    app = create_app(Fleet(svc, [str(configs)]), web_settings, env=env, testing=True)
    return Rig(app, app.test_client(), folder, configs)


def module_rig(
    factory: Any, data_dir: Path, name: str, run_first: bool = True, **web: Any
) -> Iterator[Rig]:
    """A :func:`build` rig in a new folder of pytest's ``tmp_path_factory``, with the working
    directory there while it is in use (module fixtures ``yield from`` it)."""
    folder = factory.mktemp(name)
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield build(folder, data_dir, run_first=run_first, **web)
    finally:
        os.chdir(old)
