"""Helpers of the browser tests: a real ``mixbot serve --idle`` process with two replay bots
and two web users, started in a temporary folder and stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from mixbot.paths import REPO_ROOT
from mixbot.web.users import hash_password

#: the line ``mixbot serve`` prints on stderr once the web GUI listens
READY = "mixbot serve: web GUI at "
USERS = {"admin": ("adminpass1", "operator"), "watcher": ("watchpass2", "viewer")}


def make_config(data_dir: Path, folder: Path, bot_id: str, to: str) -> Path:
    """A copy of config/trading/0003.json as bot ``bot_id`` replaying 2019-01-01..``to``
    (as ``make_config`` in tests/service/conftest.py)."""
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
    doc["bot_id"] = bot_id
    doc["data"].update(path=str(data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"), to=to)
    doc.pop("logging", None)  # each bot logs under logs/<bot_id>/
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bot_id}.json"
    path.write_text(json.dumps(doc))
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """``mixbot serve --idle`` on a free port in ``workdir`` (its logs/, reports/ and store).

    Args:
        workdir: the process's working directory (bot configs go to ``workdir/bots``).
        data_dir: the real market data folder.
    """

    def __init__(self, workdir: Path, data_dir: Path) -> None:
        self.workdir = workdir
        self.bots = workdir / "bots"
        self.files = {b: make_config(data_dir, self.bots, b, "2019-01-10") for b in ("r1", "r2")}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env_names = {"admin": "H1", "watcher": "H2"}
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("MIXBOT_CRASH_AT", "MIXBOT_WEB_SECRET", "MIXBOT_DATABASE_URL")
        }
        self.env["MIXBOT_DATABASE_URL"] = f"sqlite:///{workdir / 'store.sqlite'}"
        users = []
        for name, (password, role) in USERS.items():
            self.env[env_names[name]] = hash_password(password)
            users.append({"name": name, "password_hash": f"${{{env_names[name]}}}", "role": role})
        self.settings = workdir / "mixbot.json"
        self.settings.write_text(json.dumps({"web": {"port": self.port, "users": users}}))
        self.stderr_lines: list[str] = []
        self._ready = threading.Event()
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60.0) -> Serve:
        """Start the process and wait for its "web GUI at" line.

        Raises:
            RuntimeError: it exited or did not listen within ``timeout`` seconds (with its
                stderr).
        """
        cmd = [sys.executable, "-m", "mixbot", "serve", "--idle"]
        cmd += ["--settings", str(self.settings), str(self.bots)]
        self._stdout = (self.workdir / "serve.stdout").open("w")
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._drain, name="serve-stderr", daemon=True).start()
        self._ready.wait(timeout)
        if self.proc.poll() is not None or not any(READY in ln for ln in self.stderr_lines):
            self.stop()
            raise RuntimeError(
                f"mixbot serve did not start its web GUI within {timeout} s "
                f"(exit {self.proc.returncode}):\n" + "".join(self.stderr_lines)
            )
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            if READY in line:
                self._ready.set()
        self._ready.set()  # EOF: the process ended

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` seconds, then kill; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._stdout.close()
        return self.proc.returncode

    def pending(self, bot_id: str) -> list[dict[str, Any]]:
        """The commands queued for bot ``bot_id`` (paper mode) that no bot has taken yet."""
        from mixbot.store.control import ControlChannel
        from mixbot.store.db import open_engine

        engine = open_engine(self.env["MIXBOT_DATABASE_URL"], create=False)
        try:
            return ControlChannel(engine, bot_id, "paper").pending()
        finally:
            engine.dispose()

    def output(self) -> str:
        """What the process printed so far (stdout and stderr), for failure messages."""
        out = (self.workdir / "serve.stdout").read_text(errors="replace")
        return out + "".join(self.stderr_lines)
