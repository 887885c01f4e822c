"""Telegram alerts from the notification outbox: real python-telegram-bot against the local
Bot API server (tests/notify/bot_api.py); a replayed session's trades on real data."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from tests.notify.bot_api import TOKEN, BotApiServer
from tests.notify.conftest import BOT

from mixbot.clock import ManualClock
from mixbot.config.load import load_config
from mixbot.config.settings import Settings, SupervisorSettings, TelegramSettings, TelegramUser
from mixbot.notify.dispatcher import Notifier
from mixbot.notify.rules import BotRules
from mixbot.notify.telegram import TelegramSender
from mixbot.store.outbox import EventLog
from mixbot.store.repository import Store

USERS = (TelegramUser(111, "operator"), TelegramUser(222, "viewer"))


@pytest.fixture()
def session(replay) -> tuple[Path, str]:  # noqa: ANN001
    return replay(
        {
            "enabled": True,
            "telegram": {
                "enabled": True,
                "notify_on": {"trade_entry": "on", "trade_exit": "on", "bot_started": "silent"},
            },
        }
    )


def _notifier(cfg: Path, url: str, clock: ManualClock) -> Notifier:
    settings = Settings(None, SupervisorSettings(), telegram=TelegramSettings(True, users=USERS))
    bot = load_config(cfg)
    sender = TelegramSender(settings.telegram, clock=clock)
    rules = {bot.bot_id: BotRules(bot.notifications, settings)}
    return Notifier(
        EventLog(url),
        rules,
        {"telegram": sender},
        clock=clock,
        rng=random.Random(3),
        from_start=True,
    )


def _drain(n: Notifier, clock: ManualClock, rounds: int = 2000) -> None:
    for _ in range(rounds):
        if not n.pump() and not n.queue.pending():
            return
        clock.advance(0.5)
    raise AssertionError(f"{n.queue.pending()} notifications still pending")


def _texts(api: BotApiServer, chat: int) -> list[str]:
    return [str(c.params["text"]) for c in api.sent() if int(c.params["chat_id"]) == chat]


def test_every_trade_reaches_each_user_once_in_order(
    session: tuple[Path, str], api: BotApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    cfg, url = session
    trades = Store(url, BOT, "paper").trades()
    assert len(trades) >= 2
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, clock)
    with caplog.at_level(logging.DEBUG):
        _drain(n, clock)
    for chat in (111, 222):
        texts = _texts(api, chat)
        assert texts[0].startswith(f"<b>{BOT}</b>") and "started" in texts[0]
        body = texts[1:]
        assert len(body) == 2 * len(trades)
        for t, entry, exit_ in zip(trades, body[::2], body[1::2]):
            assert f"{t['side'].upper()} {t['symbol']}: entry" in entry
            assert f"INR {t['entry_price']:,.2f}" in entry
            assert f"net PnL INR {t['pnl_net']:,.2f}" in exit_
            assert "<pre>" in exit_
    started = [c for c in api.sent() if "started" in str(c.params["text"])]
    assert all(c.params.get("disable_notification") is True for c in started)  # silent
    trade_msgs = [c for c in api.sent() if "entry" in str(c.params["text"])]
    assert all(not c.params.get("disable_notification") for c in trade_msgs)
    assert all(c.params["parse_mode"] == "HTML" for c in api.sent())
    assert TOKEN not in caplog.text  # httpx logs request URLs at INFO: kept out
    assert all(TOKEN not in (r["last_error"] or "") for r in n.queue.rows())


def test_429_storm_honours_retry_after_and_loses_nothing(
    session: tuple[Path, str], api: BotApiServer
) -> None:
    cfg, url = session
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, clock)
    api.fail(8, status=429, retry_after=7)
    n.pump()
    first = n.queue.rows()[0]
    assert first["sent_at"] is None and "RetryAfter" in first["last_error"]
    waited = (first["next_at"] - first["created_at"]).total_seconds()
    assert 7.0 <= waited < 8.0  # the server's retry_after, not our backoff
    _drain(n, clock)
    rows = n.queue.rows()
    assert all(r["sent_at"] is not None for r in rows)
    for chat in ("111", "222"):
        mine = [r for r in rows if r["dest"] == chat]
        assert _texts(api, int(chat)) == [r["html"] for r in mine]  # once each, event order


def test_telegram_down_two_minutes_then_back(session: tuple[Path, str], api: BotApiServer) -> None:
    cfg, url = session
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, clock)
    api.down = True
    for _ in range(240):  # two simulated minutes of 502s
        n.pump()
        clock.advance(0.5)
    assert api.sent() == [] and n.queue.pending() == len(n.queue.rows())
    first = n.queue.rows()[0]
    assert first["attempts"] > 1 and "NetworkError" in first["last_error"]
    api.down = False
    _drain(n, clock)
    rows = n.queue.rows()
    for chat in ("111", "222"):
        assert _texts(api, int(chat)) == [r["html"] for r in rows if r["dest"] == chat]


def test_a_fresh_session_on_the_same_store_is_alerted_too(
    session: tuple[Path, str], api: BotApiServer, tmp_path: Path
) -> None:
    """``--fresh`` deletes the bot's rows, bus events included: their seq numbers are never
    reused (AUTOINCREMENT), so the router's cursor and the message keys still hold."""
    from mixbot.store.crashtest import run_bot

    cfg, url = session
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, clock)
    _drain(n, clock)
    first = len(api.sent())
    assert run_bot(cfg, url, fresh=True, cwd=tmp_path) == 0  # the same session again, fresh
    _drain(n, clock)
    assert len(api.sent()) == 2 * first  # every alert of the new session delivered too
