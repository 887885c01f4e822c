"""Email alerts from the notification outbox, sent by real ``smtplib`` to a local aiosmtpd
server with STARTTLS and AUTH; a replayed session's trades on real BANKNIFTY data."""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path

import pytest
from tests.notify.conftest import BOT
from tests.notify.smtp_peer import PASSWORD, USER, SmtpPeer

from mixbot.clock import ManualClock
from mixbot.config.load import load_config
from mixbot.config.settings import EmailSettings, Settings, SupervisorSettings
from mixbot.notify.dispatcher import Notifier
from mixbot.notify.email import EmailSender
from mixbot.notify.rules import BotRules
from mixbot.store.outbox import EventLog
from mixbot.store.repository import Store


@pytest.fixture()
def peer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    server = SmtpPeer(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))  # trust the test CA only
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    server.start()
    yield server
    server.stop()


def _settings(port: int) -> Settings:
    email = EmailSettings(
        enabled=True,
        smtp_host="127.0.0.1",
        smtp_port=port,
        security="starttls",
        smtp_user="${SMTP_USER}",
        smtp_password="${SMTP_PASSWORD}",
        sender="bots@example.test",
        to=("me@example.test", "ops@example.test"),
    )
    return Settings(None, SupervisorSettings(), email=email)


@pytest.fixture()
def session(replay) -> tuple[Path, str]:  # noqa: ANN001
    return replay(
        {
            "enabled": True,
            "email": {"enabled": True, "notify_on": ["trade_entry", "trade_exit", "error"]},
        }
    )


def _notifier(cfg: Path, url: str, settings: Settings, clock: ManualClock) -> Notifier:
    bot = load_config(cfg)
    rules = {bot.bot_id: BotRules(bot.notifications, settings)}
    senders = {"email": EmailSender(settings.email)}
    return Notifier(
        EventLog(url), rules, senders, clock=clock, rng=random.Random(7), from_start=True
    )


def _drain(n: Notifier, clock: ManualClock, rounds: int = 500) -> None:
    for _ in range(rounds):
        if not n.pump() and not n.queue.pending():
            return
        clock.advance(1.0)
    raise AssertionError(f"{n.queue.pending()} notifications still pending")


def test_every_trade_arrives_once_in_order(session: tuple[Path, str], peer: SmtpPeer) -> None:
    cfg, url = session
    trades = Store(url, BOT, "paper").trades()
    assert len(trades) >= 2, "the replayed session must trade for this test to mean anything"
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, _settings(peer.port), clock)
    _drain(n, clock)
    subjects = [r.message["Subject"] for r in peer.received]
    kinds = ["entry" if ": entry " in s else "exit" for s in subjects]
    assert kinds == ["entry", "exit"] * len(trades)  # each trade: its entry, then its exit
    for t, (entry, exit_) in zip(trades, zip(peer.received[::2], peer.received[1::2])):
        assert entry.tls and entry.authenticated
        assert entry.rcpt_tos == ["me@example.test", "ops@example.test"]
        text = entry.message.get_body(("plain",)).get_content()
        assert t["symbol"] in text and f"{t['entry_price']:,.2f}" in text
        assert f"qty: {t['qty']:,.0f}" in text
        out = exit_.message.get_body(("plain",)).get_content()
        assert f"net PnL: INR {t['pnl_net']:,.2f}" in out
        assert f"exit: INR {t['exit_price']:,.2f}" in out
        html = exit_.message.get_body(("html",)).get_content()
        assert "<pre>" in html and t["symbol"] in html
    ids = [r.message["Message-ID"] for r in peer.received]
    assert len(set(ids)) == len(ids)
    n.route()  # routing again (a restart re-reads nothing new) queues nothing
    assert n.pump() == 0 and len(peer.received) == 2 * len(trades)


def test_server_down_then_back_delivers_everything_once_in_order(
    session: tuple[Path, str], peer: SmtpPeer, caplog: pytest.LogCaptureFixture
) -> None:
    cfg, url = session
    expected = 2 * len(Store(url, BOT, "paper").trades())
    peer.stop()  # the server is down
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, _settings(peer.port), clock)
    with caplog.at_level(logging.WARNING, logger="mixbot.notify"):
        for _ in range(10):  # ten tries over simulated time: all fail, nothing lost
            n.pump()
            clock.advance(30.0)
    assert n.queue.pending() == expected and peer.received == []
    first = n.queue.rows()[0]
    assert first["attempts"] >= 2 and "ConnectionRefused" in first["last_error"]
    later = [r for r in n.queue.rows()[1:] if r["dest"] == first["dest"]]
    assert all(r["attempts"] == 0 for r in later)  # queued behind the first: order kept
    assert PASSWORD not in caplog.text
    peer.start()
    _drain(n, clock)
    subjects = [r.message["Subject"] for r in peer.received]
    assert len(subjects) == expected
    assert subjects == [r["subject"] for r in n.queue.rows()]  # event order


def test_wrong_password_is_reported_without_the_secret(
    session: tuple[Path, str], peer: SmtpPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, url = session
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-" + PASSWORD)
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, _settings(peer.port), clock)
    n.pump()
    row = n.queue.rows()[0]
    assert row["sent_at"] is None and row["last_error"].startswith("SMTP 535")
    assert PASSWORD not in row["last_error"]


def test_a_message_too_old_is_given_up_with_an_error_line(
    session: tuple[Path, str], peer: SmtpPeer, caplog: pytest.LogCaptureFixture
) -> None:
    cfg, url = session
    peer.stop()
    clock = ManualClock(start=1_546_000_000.0)
    s = _settings(peer.port)
    s = dataclasses.replace(
        s, notifications=dataclasses.replace(s.notifications, give_up_after_hours=1)
    )
    n = _notifier(cfg, url, s, clock)
    n.delivery = s.notifications
    n.pump()
    clock.advance(3601.0)
    with caplog.at_level(logging.ERROR, logger="mixbot.notify"):
        n.pump()
    first = n.queue.rows()[0]
    assert first["gave_up_at"] is not None and first["sent_at"] is None
    assert "dropped after" in caplog.text and "ConnectionRefused" in caplog.text


def test_an_error_storm_sends_one_email_then_one_batch(
    session: tuple[Path, str], peer: SmtpPeer
) -> None:
    """25 errors in 2 minutes: the first at once, the other 24 in one email 10 minutes after
    the first, counted in its subject; trade alerts are not held up meanwhile."""
    from mixbot.bus.events import make

    cfg, url = session
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, _settings(peer.port), clock)
    _drain(n, clock)  # the session's trade alerts
    before = len(peer.received)
    log = n.events
    for i in range(25):
        log.emit(BOT, "paper", [make("error", message=f"feed timeout #{i}")])
        n.pump()
        clock.advance(5.0)
    mails = peer.received[before:]
    assert [m.message["Subject"] for m in mails] == [f"[{BOT} paper] error: feed timeout #0"]
    log.emit(
        BOT,
        "paper",
        [make("trade_entry", symbol="BANKNIFTY", side="long", qty=20, price=1.0, tag="x")],
    )
    n.pump()
    assert "entry" in peer.received[-1].message["Subject"]  # not held behind the batch
    clock.advance(600.0)
    _drain(n, clock)
    batch = peer.received[-1]
    assert batch.message["Subject"] == f"[{BOT}] 24 error events in 10 min"
    body = batch.message.get_body(("plain",)).get_content()
    assert all(f"feed timeout #{i}" in body for i in range(1, 25))


@pytest.mark.parametrize("security", ["ssl", "none"])
def test_implicit_tls_and_a_plain_relay(
    security: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ssl``: TLS from the first byte (port 465 style) with AUTH; ``none``: a local relay."""
    server = SmtpPeer(tmp_path, security=security)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    server.start()
    try:
        s = _settings(server.port).email
        s = dataclasses.replace(s, security=security)
        if security == "none":
            s = dataclasses.replace(s, smtp_user=None, smtp_password=None)
        row = {
            "key": "1:email:x",
            "bot_id": BOT,
            "dest": "me@example.test",
            "subject": "hello",
            "text": "plain body",
            "html": "<b>bold</b>",
            "silent": False,
            "event_type": "status",
        }
        EmailSender(s).send(row)
    finally:
        server.stop()
    (got,) = server.received
    assert got.message["Subject"] == "hello" and got.tls == (security == "ssl")
    assert got.authenticated == (security == "ssl")
    assert got.message.get_body(("plain",)).get_content().strip() == "plain body"


def test_a_multi_line_error_is_one_subject_and_blocks_nothing(
    session: tuple[Path, str], peer: SmtpPeer
) -> None:
    from mixbot.bus.events import make

    cfg, url = session
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, _settings(peer.port), clock)
    _drain(n, clock)
    before = len(peer.received)
    n.events.emit(BOT, "paper", [make("error", message="Traceback:\n  File x\nValueError: boom")])
    n.events.emit(
        BOT,
        "paper",
        [make("trade_entry", symbol="BANKNIFTY", side="long", qty=1, price=2.0, tag="y")],
    )
    _drain(n, clock)
    err, entry = peer.received[before:]
    assert err.message["Subject"] == f"[{BOT} paper] error: Traceback: File x ValueError: boom"
    assert "ValueError: boom" in err.message.get_body(("plain",)).get_content()
    assert "entry" in entry.message["Subject"]


def test_errors_after_a_batch_wait_ten_minutes_from_when_it_went(
    session: tuple[Path, str], peer: SmtpPeer
) -> None:
    from mixbot.bus.events import make

    cfg, url = session
    clock = ManualClock(start=1_546_000_000.0)
    n = _notifier(cfg, url, _settings(peer.port), clock)
    _drain(n, clock)
    t0, before = clock.time(), len(peer.received)
    got: list[tuple[float, str]] = []  # (seconds after t0, subject) as each email arrives

    def pump() -> None:
        n.pump()
        for m in peer.received[before + len(got) :]:
            got.append((clock.time() - t0, m.message["Subject"]))

    errors = {0.0: "e0", 60.0: "e60", 650.0: "e650", 700.0: "e700"}  # seconds after t0
    while len(got) < 3 and clock.time() < t0 + 3000:
        due = errors.pop(clock.time() - t0, None)
        if due is not None:
            n.events.emit(BOT, "paper", [make("error", message=due)])
        pump()
        clock.advance(5.0)
    assert [s for _, s in got] == [
        f"[{BOT} paper] error: e0",
        f"[{BOT} paper] error: e60",
        f"[{BOT}] 2 error events in 10 min",
    ]
    # e0 at once; e60 held to 600 s; e650 and e700 held to 600 s after that one went
    assert got[0][0] == 0.0 and 600.0 <= got[1][0] < 610.0 and got[2][0] >= got[1][0] + 600.0
