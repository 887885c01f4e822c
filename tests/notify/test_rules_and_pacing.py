"""Routing rules (notify_on forms, destinations) and Telegram flood-limit pacing."""

from __future__ import annotations

import pytest
from tests.notify.bot_api import BotApiServer

from mixbot.clock import ManualClock
from mixbot.config.settings import (
    EmailSettings,
    Settings,
    SupervisorSettings,
    TelegramSettings,
    TelegramUser,
)
from mixbot.notify.rules import BotRules, Route, modes
from mixbot.notify.telegram import GLOBAL_GAP_S, GROUP_GAP_S, TelegramSender

HOST = Settings(
    None,
    SupervisorSettings(),
    telegram=TelegramSettings(True, users=(TelegramUser(111, "operator"), TelegramUser(222))),
    email=EmailSettings(True, to=("a@example.test", "b@example.test")),
)


def test_notify_on_list_and_object_forms() -> None:
    m = modes(["trade_entry", "error"])
    assert (m["trade_entry"], m["error"], m["status"]) == ("on", "on", "off")
    m = modes({"trade_entry": "on", "feed_state": "silent", "status": "off"})
    assert (m["trade_entry"], m["feed_state"], m["status"], m["halted"]) == (
        "on",
        "silent",
        "off",
        "off",
    )
    with pytest.raises(ValueError, match="unknown event 'trade'"):
        modes(["trade"])


def test_destinations_host_users_or_the_bots_own_chats() -> None:
    section = {
        "enabled": True,
        "telegram": {"enabled": True, "notify_on": {"trade_exit": "on", "feed_state": "silent"}},
        "email": {"enabled": True, "notify_on": ["trade_exit"]},
    }
    r = BotRules(section, HOST)
    assert r.routes("trade_exit") == [
        Route("telegram", "111", False),
        Route("telegram", "222", False),
        Route("email", "a@example.test,b@example.test", False),
    ]
    assert r.routes("feed_state") == [
        Route("telegram", "111", True),
        Route("telegram", "222", True),
    ]
    assert r.routes("status") == []
    section["telegram"]["chat_ids"] = [-100123, "@desk"]
    r = BotRules(section, HOST)
    assert [x.dest for x in r.routes("trade_exit") if x.channel == "telegram"] == [
        "-100123",
        "@desk",
    ]
    assert BotRules({**section, "enabled": False}, HOST).routes("trade_exit") == []
    off_host = Settings(None, SupervisorSettings())  # channels off on the host: nothing
    assert BotRules(section, off_host).routes("trade_exit") == []


def test_messages_are_paced_under_the_flood_limits(api: BotApiServer) -> None:
    clock = ManualClock()
    s = TelegramSender(TelegramSettings(True), clock=clock)
    for i in range(4):
        s.send({"dest": "-100500", "html": f"m{i}", "text": f"m{i}", "silent": False})
    for i in range(3):
        s.send({"dest": "111", "html": f"p{i}", "text": f"p{i}", "silent": False})
    s.close()
    waits = [round(w, 4) for w in clock.waits]
    assert waits[:3] == [GROUP_GAP_S] * 3  # 20 a minute to one group
    assert all(w <= GLOBAL_GAP_S + 1e-9 for w in waits[3:])  # 30 a second overall
    assert [c.params["text"] for c in api.sent()] == ["m0", "m1", "m2", "m3", "p0", "p1", "p2"]


def test_refused_markup_is_sent_again_as_plain_text(api: BotApiServer) -> None:
    api.reject_html = True
    s = TelegramSender(TelegramSettings(True), clock=ManualClock())
    s.send({"dest": "111", "html": "<b>bold</b> &amp; more", "text": "bold & more", "silent": True})
    s.close()
    (call,) = api.sent()
    assert call.params["text"] == "bold & more" and "parse_mode" not in call.params
    assert call.params["disable_notification"] is True


def test_poller_answers_in_plain_text_when_markup_is_refused(api: BotApiServer) -> None:
    import asyncio

    from mixbot.notify.commands import CommandCenter, Reply
    from mixbot.notify.poller import TelegramPoller

    api.reject_html = True
    p = TelegramPoller(TelegramSettings(True), CommandCenter(None, [], {}))
    asyncio.run(p._send(111, Reply("<b>Bots</b>\n<pre>a  b</pre>")))
    (call,) = api.sent()
    assert call.params["text"] == "Bots\na  b"
