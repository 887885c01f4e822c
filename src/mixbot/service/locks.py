"""One process per bot: an OS lock per bot, and a doorbell file that wakes its control thread.

The lock is an exclusive ``fcntl.flock`` on ``<lock dir>/<mode>-<bot_id>.lock``; the kernel
releases it when the process dies, however it dies (``kill -9`` included), so a stale lock
never blocks a restart. The lock directory sits beside the SQLite file (``data/locks/`` for
``data/mixbot_paper.sqlite``), or ``data/locks/`` for other databases: bots sharing a
PostgreSQL store from several hosts are guarded per host only (run each bot on one host).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from mixbot.errors import MixbotError


class BotAlreadyRunning(MixbotError):
    """Another process holds the bot's lock (its pid is in ``pid``, when known)."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def lock_dir(url: str) -> Path:
    """The folder of the lock and doorbell files for bots of the database ``url``."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:
        return Path("data") / "locks"
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return Path(u.database).resolve().parent / "locks"
    return Path("data") / "locks"


def _name(bot_id: str, mode: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in bot_id)
    return f"{mode}-{safe}"


def doorbell(url: str, bot_id: str, mode: str) -> Path:
    """The bot's doorbell file: its control thread watches the file's mtime."""
    return lock_dir(url) / f"{_name(bot_id, mode)}.bell"


def ring(url: str, bot_id: str, mode: str) -> None:
    """Wake the bot's control thread now (a command was queued); harmless when no bot runs."""
    bell = doorbell(url, bot_id, mode)
    try:
        bell.parent.mkdir(parents=True, exist_ok=True)
        bell.touch()
    except OSError:
        pass  # the control thread also polls the store


class BotLock:
    """The exclusive lock of one bot; :meth:`acquire` it for the life of the process.

    Args:
        url: the bot's database URL (where the lock folder is).
        bot_id, mode: the bot.
    """

    def __init__(self, url: str, bot_id: str, mode: str) -> None:
        self.path = lock_dir(url) / f"{_name(bot_id, mode)}.lock"
        self.bot_id = bot_id
        self.mode = mode
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, writing this pid into the file.

        Raises:
            BotAlreadyRunning: another process holds it (the message names its pid).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            text = fh.read().strip()
            fh.close()
            pid = int(text) if text.isdigit() else None
            who = f"process {pid}" if pid else "another process"
            raise BotAlreadyRunning(
                f"bot {self.bot_id} ({self.mode}) is already running in {who} (lock "
                f"{self.path}); stop it first (`mixbot stop`, or Ctrl+C / SIGTERM to that "
                "process): one bot never runs twice",
                pid,
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        """Give the lock back (also happens when the process dies)."""
        if self._fh is not None:
            try:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            finally:
                self._fh.close()
                self._fh = None

    def holder(self) -> int | None:
        """The pid holding the lock now, or None when nobody does (this process excluded
        only when it does not hold it)."""
        if self._fh is not None:
            return os.getpid()
        if not self.path.exists():
            return None
        with self.path.open("r", encoding="utf-8") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = fh.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            return None
