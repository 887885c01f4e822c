"""Telegram commands through the service layer: real python-telegram-bot polling the local
Bot API server; an operator, a viewer and a stranger; confirmations that expire."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.notify.bot_api import BotApiServer, button_update, command_update
from tests.service.conftest import make_config

from mixbot.clock import ManualClock
from mixbot.config.settings import TelegramSettings
from mixbot.notify.commands import COMMANDS, CONFIRM_S, CommandCenter
from mixbot.notify.poller import TelegramPoller, split_html
from mixbot.service.bots import BotService
from mixbot.store.crashtest import run_bot

OPERATOR, VIEWER, STRANGER = 111, 222, 999
USERS = {OPERATOR: "operator", VIEWER: "viewer"}
HANG_GUARD_S = 60


@pytest.fixture(scope="module")
def stored(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two replayed bots' sessions in one store, made once for this module."""
    data = data_dir
    root = tmp_path_factory.mktemp("tgstore")
    url = f"sqlite:///{root / 'store.sqlite'}"
    for b in ("tga", "tgb"):
        cfg = make_config(data, root / "bots", b, "2019-01-04")
        assert run_bot(cfg, url, fresh=True, cwd=root) == 0
    return root


@pytest.fixture()
def bots(stored: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[BotService, list]:
    """The two bots, each test on its own copy of the store and logs."""
    import shutil

    shutil.copytree(stored, tmp_path / "w")
    work = tmp_path / "w"
    monkeypatch.chdir(work)
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{work / 'store.sqlite'}")
    svc = BotService()
    return svc, svc.bots([str(work / "bots")])


@pytest.fixture()
def poller(bots, api: BotApiServer, tmp_path: Path) -> Iterator[TelegramPoller]:  # noqa: ANN001
    svc, refs = bots
    center = CommandCenter(svc, refs, USERS)
    p = TelegramPoller(TelegramSettings(True), center, tmp_path / "audit.jsonl", poll_timeout_s=1)
    p.start()
    assert p.ready.wait(HANG_GUARD_S)
    yield p
    p.stop()


def _ask(api: BotApiServer, update: dict, replies: int = 1, method: str = "sendMessage") -> list:  # type: ignore[type-arg]
    before = len(api.sent(method))
    api.push_update(update)
    deadline = time.monotonic() + HANG_GUARD_S
    while len(api.sent(method)) < before + replies:
        assert time.monotonic() < deadline, "hang guard: no reply"
        time.sleep(0.01)
    return api.sent(method)[before:]


def _sql(svc: BotService, ref, sql: str) -> list[tuple]:  # type: ignore[type-arg]  # noqa: ANN001
    with svc.engine(ref.url).connect() as c:
        return [tuple(r) for r in c.exec_driver_sql(sql).fetchall()]


def _audit(tmp_path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]


def test_menu_is_registered_and_status_answers_the_operator(
    poller: TelegramPoller,
    api: BotApiServer,
    bots,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    svc, _ = bots
    names = [c["command"] for c in api.sent("setMyCommands")[0].params["commands"]]
    assert {"status", "panic", "forceexit", "chart", "daily"} <= set(names)
    assert api.sent("deleteWebhook")
    (reply,) = _ask(api, command_update(OPERATOR, "/status tga"))
    text = reply.params["text"]
    st = svc.status(str(Path("bots") / "tga.json"))
    assert text.startswith("<b>tga</b> <i>paper</i>") and reply.params["parse_mode"] == "HTML"
    assert f"{st.trades_closed} closed, net {st.realized_pnl_total:,.2f}" in text
    assert st.status in text
    assert _audit(tmp_path)[-1] | {"at": None} == {
        "at": None,
        "user": OPERATOR,
        "role": "operator",
        "command": "status",
        "args": [],
        "outcome": "ok",
        "bots": ["tga"],
    }
    events = svc.audit(str(Path("bots") / "tga.json"), "telegram_command")
    assert events and "/status by 111 (operator): ok" in events[-1]["message"]


def test_stranger_and_viewer_are_refused_and_audited(
    poller: TelegramPoller,
    api: BotApiServer,
    bots,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    svc, refs = bots
    (r,) = _ask(api, command_update(STRANGER, "/status tga"))
    assert r.params["text"] == "Not authorised."
    (r,) = _ask(api, command_update(VIEWER, "/stop tga"))
    assert r.params["text"] == "/stop needs operator."
    (r,) = _ask(api, command_update(VIEWER, "/trades tga 3"))
    assert r.params["text"].startswith("<b>Last 3 trades</b>")  # a viewer may read
    outcomes = [(a["user"], a["command"], a["outcome"]) for a in _audit(tmp_path)]
    assert (STRANGER, "status", "refused: not authorised") in outcomes
    assert (VIEWER, "stop", "refused: needs operator") in outcomes
    rows = _sql(svc, refs[0], "SELECT count(*) FROM control_commands")
    assert rows == [(0,)]  # nothing was queued for the refused stop


def test_operator_stop_goes_through_the_control_channel(
    poller: TelegramPoller,
    api: BotApiServer,
    bots,  # noqa: ANN001
) -> None:
    svc, refs = bots
    (r,) = _ask(api, command_update(OPERATOR, "/stop tgb"))
    assert "<b>tgb</b>: /stop" in r.params["text"]
    rows = _sql(svc, refs[1], "SELECT bot_id, command, source FROM control_commands")
    assert ("tgb", "stop", "telegram") in [tuple(x) for x in rows]


def test_missing_bot_gets_a_picker_and_panic_a_confirmation(
    poller: TelegramPoller,
    api: BotApiServer,
    bots,  # noqa: ANN001
) -> None:
    svc, refs = bots
    (r,) = _ask(api, command_update(OPERATOR, "/panic"))
    keyboard = r.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == [
        "pick:panic:tga",
        "pick:panic:tgb",
        "pick:panic:all",
    ]
    (r,) = _ask(api, button_update(OPERATOR, "pick:panic:tga"))
    assert "expires in 30 s" in r.params["text"]
    yes = r.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert yes.startswith("ok:")
    (edit,) = _ask(api, button_update(OPERATOR, yes), method="editMessageText")
    assert "<b>tga</b>: /panic" in edit.params["text"]
    assert api.sent("answerCallbackQuery")
    rows = _sql(
        svc, refs[0], "SELECT bot_id, command, source FROM control_commands WHERE command = 'panic'"
    )
    assert [tuple(x) for x in rows] == [("tga", "panic", "telegram")]
    (again,) = _ask(api, button_update(OPERATOR, yes), method="editMessageText")
    assert "not valid" in again.params["text"]  # a button works once


def test_chart_is_a_png(poller: TelegramPoller, api: BotApiServer) -> None:
    (photo,) = _ask(api, command_update(VIEWER, "/chart tga"), method="sendPhoto")
    assert photo.params["photo"]["size"] > 1000 and "equity" in photo.params["caption"]


def test_confirmation_expires_after_30_seconds(bots) -> None:  # noqa: ANN001
    svc, refs = bots
    clock = ManualClock()
    seen: list[tuple] = []  # type: ignore[type-arg]
    c = CommandCenter(svc, refs, USERS, audit=lambda *a: seen.append(a), clock=clock)
    (ask,) = c.handle_text(OPERATOR, "/forceexit tga")
    token = ask.buttons[0][0][1]
    assert c.handle_button(VIEWER, token)[0].html.startswith("This confirmation is not valid")
    assert c.handle_button(STRANGER, token)[0].html == "Not authorised."
    assert c.handle_button(VIEWER, ask.buttons[0][1][1])[0].html.startswith("This confirmation")
    assert seen[-1][4] == "refused: not valid"  # others' presses are audited ...
    (ok,) = c.handle_button(OPERATOR, token)  # ... and leave the operator's button working
    assert "<b>tga</b>: /forceexit" in ok.html
    (ask,) = c.handle_text(OPERATOR, "/forceexit tga")
    clock.advance(CONFIRM_S + 0.5)
    (late,) = c.handle_button(OPERATOR, ask.buttons[0][0][1])
    assert "expired" in late.html and late.edit
    assert seen[-1][2:5] == ("forceexit", [], "expired")


def test_long_answers_are_split_under_the_limit() -> None:
    rows = "\n".join(f"row {i:04d} " + "x" * 60 for i in range(200))
    pieces = split_html("<b>title</b>\n<pre>" + rows + "</pre>")
    assert len(pieces) > 1 and all(len(p) <= 4096 for p in pieces)
    assert all(p.count("<pre>") == p.count("</pre>") for p in pieces)
    assert "".join(pieces).count("row ") == 200


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_for_operator_viewer_and_stranger(bots, name: str) -> None:  # noqa: ANN001
    svc, refs = bots
    seen: list[tuple] = []  # type: ignore[type-arg]
    c = CommandCenter(svc, refs, USERS, audit=lambda *a: seen.append(a), clock=ManualClock())
    text = f"/{name} tga" if COMMANDS[name].bot else f"/{name}"
    assert [r.html for r in c.handle_text(STRANGER, text)] == ["Not authorised."]
    viewer = c.handle_text(VIEWER, text)
    if COMMANDS[name].operator:
        assert [r.html for r in viewer] == [f"/{name} needs operator."]
    else:
        assert viewer and not any("failed" in r.html for r in viewer), viewer
    replies = c.handle_text(OPERATOR, text)
    if COMMANDS[name].confirm:
        (ask,) = replies
        replies = c.handle_button(OPERATOR, ask.buttons[0][0][1])
    assert replies and not any("failed" in r.html for r in replies), replies
    assert seen[-1][0] == OPERATOR and seen[-1][4] == "ok", seen[-1]


def test_a_restarted_poller_does_not_answer_old_updates(
    bots,
    api: BotApiServer,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    svc, refs = bots

    def start() -> TelegramPoller:
        p = TelegramPoller(
            TelegramSettings(True),
            CommandCenter(svc, refs, USERS),
            tmp_path / "audit.jsonl",
            poll_timeout_s=1,
        )
        p.start()
        assert p.ready.wait(HANG_GUARD_S)
        return p

    first = start()
    _ask(api, command_update(OPERATOR, "/stop tga"))
    first.stop()
    api.push_update(command_update(OPERATOR, "/bots"))  # arrives while the host is down
    second = start()
    deadline = time.monotonic() + HANG_GUARD_S
    while len(api.sent()) < 2:
        assert time.monotonic() < deadline, "hang guard"
        time.sleep(0.01)
    second.stop()
    texts = [str(c.params["text"]) for c in api.sent()]
    assert len(texts) == 2 and texts[1].startswith("<b>Bots</b>")  # /stop not answered again
    assert (tmp_path / "telegram.offset").read_text().strip().isdigit()


def test_a_command_sent_while_the_host_was_down_is_not_run(
    poller: TelegramPoller,
    api: BotApiServer,
    bots,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    svc, refs = bots
    old = command_update(OPERATOR, "/stop tga")
    old["message"]["date"] -= 3600  # an hour ago
    (r,) = _ask(api, old)
    assert r.params["text"].startswith("Ignored /stop: sent 60 min ago")
    with svc.engine(refs[0].url).connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM control_commands").scalar() == 0
    assert _audit(tmp_path)[-1]["outcome"].startswith("ignored:")
