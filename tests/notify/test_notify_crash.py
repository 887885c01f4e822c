"""kill -9 around the notification outbox: of the bot between committing a trade and its
delivery, and of the notifier between queueing and sending. Real processes, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.notify.bot_api import BotApiServer
from tests.notify.conftest import BOT

from mixbot.paths import REPO_ROOT
from mixbot.store.crashtest import run_bot
from mixbot.store.repository import Store

#: A notifier process: routes and sends this store's alerts to the local Bot API server.
NOTIFIER = """
import random, sys
from mixbot.config.load import load_config
from mixbot.config.settings import Settings, SupervisorSettings, TelegramSettings, TelegramUser
from mixbot.notify.dispatcher import Notifier
from mixbot.notify.rules import rules_for
from mixbot.notify.telegram import TelegramSender
from mixbot.store.outbox import EventLog
cfg, url = sys.argv[1], sys.argv[2]
s = Settings(None, SupervisorSettings(), telegram=TelegramSettings(True, users=(TelegramUser(111),)))
bot = load_config(cfg)
n = Notifier(EventLog(url), {bot.bot_id: rules_for(bot, s)}, {"telegram": TelegramSender(s.telegram)},
             from_start=True)
for _ in range(10_000):
    if not n.pump() and not n.queue.pending():
        break
"""


def _notify(cfg: Path, url: str, crash: str | None = None) -> int:
    env = dict(os.environ)
    env.pop("MIXBOT_NOTIFY_CRASH_AT", None)
    if crash:
        env["MIXBOT_NOTIFY_CRASH_AT"] = crash
    p = subprocess.run(
        [sys.executable, "-c", NOTIFIER, str(cfg), url], env=env, cwd=REPO_ROOT, timeout=300
    )
    return p.returncode


def _texts(api: BotApiServer) -> list[str]:
    return [str(c.params["text"]) for c in api.sent()]


def test_kill_9_of_the_bot_after_a_trade_then_delivery_once(
    replay, api: BotApiServer, tmp_path: Path
) -> None:  # noqa: ANN001
    notifications = {
        "enabled": True,
        "telegram": {"enabled": True, "notify_on": ["trade_entry", "trade_exit"]},
    }
    cfg, url = replay(notifications)  # the uninterrupted reference run
    expected = 2 * len(Store(url, BOT, "paper").trades())
    killed = f"sqlite:///{tmp_path / 'killed.sqlite'}"
    assert (
        run_bot(cfg, killed, fresh=True, cwd=tmp_path, kill_at_bar=300, bot_id=BOT)
        == -signal.SIGKILL
    )
    assert run_bot(cfg, killed, cwd=tmp_path) == 0  # restart: resumes from its checkpoint
    assert _notify(cfg, killed) == 0
    texts = _texts(api)
    assert len(texts) == expected and len(set(texts)) == expected  # each trade alert once


def test_kill_9_of_the_notifier_after_queueing_loses_and_repeats_nothing(
    replay,
    api: BotApiServer,  # noqa: ANN001
) -> None:
    notifications = {
        "enabled": True,
        "telegram": {"enabled": True, "notify_on": ["trade_entry", "trade_exit"]},
    }
    cfg, url = replay(notifications)
    expected = 2 * len(Store(url, BOT, "paper").trades())
    assert _notify(cfg, url, crash="routed") == -signal.SIGKILL
    assert api.sent() == []  # queued, committed, not sent
    assert _notify(cfg, url) == 0
    texts = _texts(api)
    assert len(texts) == expected and len(set(texts)) == expected


def test_kill_9_between_accepted_and_marked_repeats_only_that_message(
    replay,
    api: BotApiServer,  # noqa: ANN001
) -> None:
    """The documented window of at-least-once delivery: one network round trip."""
    notifications = {
        "enabled": True,
        "telegram": {"enabled": True, "notify_on": ["trade_entry", "trade_exit"]},
    }
    cfg, url = replay(notifications)
    expected = 2 * len(Store(url, BOT, "paper").trades())
    assert _notify(cfg, url, crash="sent") == -signal.SIGKILL
    assert _notify(cfg, url) == 0
    texts = _texts(api)
    assert len(texts) == expected + 1 and len(set(texts)) == expected
    assert texts[0] == texts[1]  # the first message, accepted just before the kill, again
