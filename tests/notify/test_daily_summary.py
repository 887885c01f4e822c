"""The daily summary: one ``daily_summary`` event per bot and trading day, emailed with the
day's equity curve as a PNG; from a replayed session on real data."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from pathlib import Path

import pytest
from tests.notify.smtp_peer import PASSWORD, USER, SmtpPeer

from mixbot.clock import ManualClock
from mixbot.config.settings import EmailSettings, Settings, SupervisorSettings
from mixbot.notify.dispatcher import Notifier
from mixbot.notify.email import EmailSender
from mixbot.notify.host import summary_chart
from mixbot.notify.rules import rules_for
from mixbot.notify.summary import DailySummaries
from mixbot.service.bots import BotService
from mixbot.store.outbox import EventLog

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


@pytest.fixture()
def peer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    server = SmtpPeer(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def served(replay, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    cfg, url = replay({"enabled": True, "email": {"enabled": True, "notify_on": ["daily_summary"]}})
    monkeypatch.setenv("MIXBOT_DATABASE_URL", url)
    svc = BotService()
    return svc, svc.bots([str(cfg)]), url


def _settings(port: int) -> Settings:
    email = EmailSettings(
        True,
        "127.0.0.1",
        port,
        "starttls",
        "${SMTP_USER}",
        "${SMTP_PASSWORD}",
        "bots@example.test",
        ("me@example.test",),
        "16:00",
    )
    return Settings(None, SupervisorSettings(), email=email)


def test_each_session_day_is_emailed_with_its_figures_and_chart(served, peer: SmtpPeer) -> None:  # noqa: ANN001
    svc, refs, url = served
    settings = _settings(peer.port)
    clock = ManualClock(start=1_546_000_000.0)
    sender = EmailSender(settings.email, attachments=summary_chart(svc, refs))
    rules = {refs[0].bot_id: rules_for(refs[0].cfg, settings)}
    n = Notifier(
        EventLog(url), rules, {"email": sender}, clock=clock, rng=random.Random(1), from_start=True
    )
    for _ in range(100):
        if not n.pump() and not n.queue.pending():
            break
        clock.advance(1.0)
    by_day: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    for t in svc.trades([refs[0].file]):
        by_day[str(t["exit_time"])[:10]].append(t)
    days = ["2019-01-01", "2019-01-02", "2019-01-03", "2019-01-04"]
    assert [m.message["Subject"].split("daily summary ")[1][:10] for m in peer.received] == days
    for day, mail in zip(days, peer.received):
        text = mail.message.get_body(("plain",)).get_content()
        trades = by_day[day]
        assert f"trades: {len(trades)}" in text
        net = sum(t["pnl_net"] for t in trades)
        assert f"net PnL: INR {net:,.2f}" in text
        if trades:
            assert f"charges: INR {sum(t['charges'] for t in trades):,.2f}" in text
        (png,) = [p for p in mail.message.iter_attachments()]
        assert png.get_filename() == f"equity-{refs[0].bot_id}-{day}.png"
        assert png.get_content()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_host_writes_it_at_the_set_time_on_trading_days_only(served) -> None:  # noqa: ANN001
    svc, refs, url = served
    log = EventLog(url)

    def at(local: str) -> float:
        return dt.datetime.fromisoformat(local).replace(tzinfo=IST).timestamp()

    clock = ManualClock(start=at("2019-01-05 16:30"))  # a Saturday
    d = DailySummaries(svc, refs, "16:00", clock)
    assert d.tick() == 0
    clock.advance(at("2019-01-07 15:59") - clock.time())  # Monday, before the time
    assert d.tick() == 0
    clock.advance(120.0)
    assert d.tick() == 1 and d.tick() == 0
    (ev,) = [
        e
        for e in log.read(0, 10_000)
        if e["type"] == "daily_summary" and e["payload"]["day"] == "2019-01-07"
    ]
    assert ev["payload"]["trades"] == 0 and ev["payload"]["win_rate"] is None
    again = DailySummaries(svc, refs, "16:00", clock)  # a restarted host: the key holds
    assert again.tick() == 0
    clock.advance(at("2019-03-04 16:05") - clock.time())  # Mahashivratri: an NSE holiday, a Monday
    assert d.tick() == 0
    clock.advance(at("2019-03-05 16:05") - clock.time())
    assert d.tick() == 1
