"""The live session of issue 16's "done when", from the command line as a user runs it: two
days of `mixbot run` on the Upstox broker against the local simulator (real BANKNIFTY
1-minute data, 2019-01-01 and 2019-01-02), with

- a position bought by hand "in the Upstox app" beside the bot (``outside_positions:
  ignore``): reported, never taken into the bot's books;
- sliced orders: the simulator's freeze quantity is 40 on the lot of 20, so the bot's orders
  of 120-140 go out as 3-4 orders, and every order fills in parts (``partial_fill``);
- a kill -9 of the bot in the middle of its first sliced order (two of its fills done, the
  rest held back by the simulator's ``fill_limit``), then a restart that adopts every slice;
- the access token dying before the second session (Upstox: 03:30 IST), `mixbot upstox
  login` while the bot waits, and the bot going on with the new token;
- `mixbot panic` between bars on the second day: every order cancelled, every position
  exited, the bot books the panic's exit of its position and stops halted.

Afterwards the books agree: the store's fills are the simulator's trade book for the bot's
orders (quantity, price, exchange time), each trade's prices, PnL and charges are the sums
over its fills, `mixbot trades` shows the store's trades, the audit export of each day holds
every fill, and `mixbot audit verify` passes (and fails once a row is edited).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.venues.upstox.live_sim import (
    APP,
    live_config,
    login,
    login_when_expired,
    manual_buy,
    simulator,
)

from mixbot.store.repository import Store
from mixbot.venues.upstox.execution.broker_fills import exchange_time

pytest.importorskip("mixbot.simulators.upstox")
upstox_client = pytest.importorskip("upstox_client")

BOT = "twoday"
FREEZE = 40
MANUAL = 40
DAY1, DAY2 = "2019-01-01", "2019-01-02"


def _mixbot(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mixbot", *args],
        env=dict(os.environ), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _let_the_market_trade(sim: Any, rounds: int = 3) -> None:
    """The panic's MARKET exits fill on the market's next ticks. The simulator's market
    stands still while no client subscribes (``hold_without_client``), and the bot may
    disconnect (halted) before those ticks come. So a market-data client watches for a few
    seconds (``mixbot feed-test``, a real websocket subscriber) until no order is open."""
    for _ in range(rounds):
        final = ("complete", "cancelled", "rejected")
        if all(o["status"] in final for o in sim.exchange.orders()):
            return
        _mixbot("feed-test", "NSE_FO|35005", "--seconds", "5", timeout=120)


class MidSlice:
    """Wraps the simulated exchange's ``place``: the first order of the bot that is cut into
    3+ slices gets exactly 2 fills (``fill_limit``), then the market holds it (the kill)."""

    def __init__(self, sim: Any) -> None:
        self.sim, self.tag = sim, None
        self.ids: list[str] = []
        real = sim.exchange.place

        def place(spec: dict[str, Any], quantities: list[int]) -> Any:
            orders = real(spec, quantities)
            tag = str(spec.get("tag") or "")
            if self.tag is None and tag.startswith(f"{BOT}:") and len(quantities) >= 3:
                sim.faults.fill_limit(2)
                self.tag, self.ids = tag, [o.order_id for o in orders]
            return orders

        sim.exchange.place = place

    def fills(self) -> int:
        return sum(1 for t in self.sim.exchange.trades() if t["order_id"] in self.ids)


def _wait(cond: Any, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout  # a hang guard only: the market pace decides
    while not cond():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def _config(tmp_path: Path) -> Path:
    cfg = live_config(tmp_path, BOT, DAY2, outside_positions="ignore", entry_timeout_seconds=3600)
    path = Path(cfg.source_file)
    doc = json.loads(path.read_text())
    del doc["broker"]["access_token"]  # the token of `mixbot upstox login` (the token file)
    path.write_text(json.dumps(doc))
    return path


def _run_session(tmp_path: Path, sim: Any, cfg: Path, url: str) -> dict[str, Any]:
    """Run the two days: kill -9 mid-slice, re-login at night, panic on day 2."""
    out: dict[str, Any] = {}
    mid = MidSlice(sim)
    cmd = [sys.executable, "-m", "mixbot", "run", str(cfg), "--no-progress", "--fresh"]
    first = subprocess.Popen(cmd, env=dict(os.environ), stderr=subprocess.PIPE)
    _wait(lambda: mid.fills() >= 2 or first.poll() is not None, "a sliced order filled twice")
    assert first.poll() is None, first.stderr.read().decode()[-3000:] if first.stderr else ""
    first.send_signal(signal.SIGKILL)  # mid-slice: 2 fills done, the rest still working
    first.wait(30)
    out["killed"] = (mid.tag, len(mid.ids), mid.fills())
    sim.faults.fill_limit(None)  # (the market stands still until the bot is back)

    seen: dict[str, Any] = {}
    user = threading.Thread(
        target=login_when_expired, args=(sim, url, BOT, seen, True), daemon=True
    )
    user.start()
    second = subprocess.Popen(cmd[:-1], env=dict(os.environ), stderr=subprocess.PIPE)

    def day2_holding() -> bool:
        if second.poll() is not None:
            return True
        now = dt.datetime.fromtimestamp(sim.now_ms() / 1000, dt.UTC)
        if now.date().isoformat() != DAY2 or not Path(url[10:]).exists():
            return False
        store = Store(url, BOT, "live", create=False)
        try:
            held = store.find_bot() is not None and any(p["qty"] for p in store.positions())
        finally:
            store.close()
        return held or now.hour >= 9  # 14:30 IST: panic flat if it never held on day 2

    _wait(day2_holding, "the second day with a position", timeout=600)
    assert second.poll() is None, second.stderr.read().decode()[-3000:] if second.stderr else ""
    panic = _mixbot("panic", str(cfg), "--yes", "--reason", "two-day test")
    out["panic"] = (panic.returncode, panic.stdout + panic.stderr)
    try:
        _, err = second.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        second.kill()
        raise
    out["second"] = (second.returncode, err.decode(errors="replace")[-3000:])
    user.join(30)
    out["login"] = seen
    return out


@pytest.fixture
def session(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    sim = simulator(
        data_dir, tmp_path, DAY2, cash=10_000_000.0, expire_tokens=True, hold_for_login=True,
        hold_without_client=True, freeze_quantity=FREEZE, faults={"partial_fill": 0.5},
    )  # fmt: skip
    sim.start()
    url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    try:
        env = {**sim.env(), **APP, "MIXBOT_DATABASE_URL": url}
        env["MIXBOT_UPSTOX_TOKEN_FILE"] = str(tmp_path / "token.json")
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("UPSTOX_ACCESS_TOKEN", raising=False)
        cfg = _config(tmp_path)
        code, said = login()  # the user's first login of the day
        assert code == 0, said
        manual_buy(sim, MANUAL)
        out = _run_session(tmp_path, sim, cfg, url)
        _let_the_market_trade(sim)
        out["trades"], out["orders"] = sim.exchange.trades(), sim.exchange.orders()
        out["positions"] = sim.exchange.positions()
    finally:
        sim.stop()
    return {**out, "cfg": cfg, "url": url, "tmp": tmp_path}


def _mine(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if str(r.get("tag") or "").startswith(f"{BOT}:")]


def test_two_days_live_books_agree_with_the_exchange(session: dict[str, Any]) -> None:
    s = session
    code, err = s["second"]
    assert code == 0, err
    assert "error" not in s["login"], s["login"].get("error")
    assert s["login"]["login"][0] == 0
    tag, n_slices, fills_at_kill = s["killed"]
    assert tag is not None and n_slices >= 3 and fills_at_kill == 2
    assert s["panic"][0] == 0, s["panic"][1]

    store = Store(s["url"], BOT, "live", create=False)
    try:
        _books_agree(s, store)
        _trades_agree(s, store)
        _the_day_around_it(s, store)
    finally:
        store.close()
    _audit_agrees(s)


def _order_tag(venue_tag: str) -> str:
    """The bot's order a venue tag belongs to: a stuck exit re-sent at MARKET goes out as
    ``<tag>:r1``, ``:r2`` ... and its fills are the same Backtrader order's (stored under
    ``<tag>``)."""
    return re.sub(r":r\d+$", "", venue_tag)


def _books_agree(s: dict[str, Any], store: Store) -> None:
    """Every fill of the bot's orders at the exchange is one stored fill, same quantity,
    price and exchange time; no order of the bot went out twice."""
    tag_of = {o["order_id"]: str(o["tag"] or "") for o in s["orders"]}
    venue = sorted(
        (_order_tag(tag_of[t["order_id"]]), int(t["quantity"]),
         round(float(t["average_price"]), 2), exchange_time(t["exchange_timestamp"]))
        for t in s["trades"] if tag_of[t["order_id"]].startswith(f"{BOT}:")
    )  # fmt: skip
    stored = sorted(
        (f["order_tag"], int(f["qty"]), round(float(f["price"]), 2), f["fill_time"])
        for f in store.fills()
    )
    assert stored == venue
    by_tag: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in _mine(s["orders"]):
        by_tag[o["tag"]].append(o)
    requested = {o["tag"]: o["qty_requested"] for o in store.orders()}
    for tag, rows in by_tag.items():  # one request per tag: its slices, nothing re-sent
        base = _order_tag(tag)
        assert base in requested, f"{tag} at the exchange, not in the store"
        if base != tag:  # a re-sent stuck exit: only after its earlier link was cancelled
            assert any(r["status"] == "cancelled" for r in by_tag[base])
            continue
        assert sum(r["quantity"] for r in rows) == requested[tag] or any(
            r["status"] == "cancelled" for r in rows
        )
        assert len(rows) == -(-int(requested[tag]) // FREEZE)
    assert max(len(rows) for rows in by_tag.values()) >= 3


def _trades_agree(s: dict[str, Any], store: Store) -> None:
    """Each stored trade is the sum of its fills; `mixbot trades` shows the same."""
    fills: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in store.fills():
        fills[f["order_tag"]].append(f)
    trades = store.trades()
    assert trades, "the bot must trade in these two days"
    for t in trades:
        entry = fills[t["entry_tag"]]
        parts = json.loads(t["exit_parts"])
        exits = [f for p in parts for f in fills[p["tag"]]]
        qty = sum(f["qty"] for f in entry)
        assert qty == t["qty"] == sum(f["qty"] for f in exits)
        assert round(t["entry_price"], 2) == round(
            sum(f["qty"] * f["price"] for f in entry) / qty, 2
        )
        assert round(t["exit_price"], 2) == round(
            sum(f["qty"] * f["price"] for f in exits) / qty, 2
        )
        gross = sum((f["price"] - t["entry_price"]) * f["qty"] for f in exits)
        assert abs(t["pnl_gross"] - gross) < 1e-6
        assert abs(t["charges"] - sum(f["commission"] for f in entry + exits)) < 1e-6
        assert t["exit_time"] == max(f["fill_time"] for f in exits)
    # the second day ends in the panic, which came while the bot held 140. Either the panic
    # exited them (its exit of the bot's share, booked on the trade: reason "panic"), or the
    # bot's own exit was already on its way when the halt came (an intent committed before
    # it) and the panic, seeing it, sent nothing for the bot: never both
    last = trades[-1]
    panic_tags = {o["tag"] for o in _mine(s["orders"]) if o["tag"].startswith(f"{BOT}:pn")}
    if last["exit_reason"] == "panic":
        assert [p["tag"] for p in json.loads(last["exit_parts"])] == sorted(panic_tags)
    else:
        assert not panic_tags, "the bot's exit and the panic's both sold"
    assert last["exit_time"].date().isoformat() == s.get("last_day", DAY2)
    out = s["tmp"] / "trades.csv"
    r = _mixbot("trades", str(s["cfg"]), "--csv", str(out))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert [(r["entry_tag"], r["exit_price"], r["pnl_net"]) for r in rows] == [
        (t["entry_tag"], f"{t['exit_price']:.2f}", f"{t['pnl_net']:.2f}") for t in trades
    ]


def _the_day_around_it(s: dict[str, Any], store: Store) -> None:
    """The token expiry, the manual position, the panic, the end state."""
    kinds = [e["kind"] for e in store.events() if e["kind"].startswith("token_")]
    assert kinds == ["token_expired", "token_renewed"]
    outside = [e["data"] for e in store.events("outside_position")]
    assert any(d["qty"] == MANUAL and d["action"] == "ignored" for d in outside)
    assert not any(p["qty"] for p in store.positions())  # the bot's books: flat
    assert store.bot_row()["status"] == "halted"
    assert all(p["quantity"] == 0 for p in s["positions"])  # the account: flat (panic)
    assert not [o for o in s["orders"] if o["status"] in ("open", "trigger pending")]


def _audit_agrees(s: dict[str, Any]) -> None:
    """The audit export of each day holds every stored fill of that day; verify passes,
    and fails once a row is edited."""
    store = Store(s["url"], BOT, "live", create=False)
    fills = store.fills()
    store.close()
    exported = []
    for day in (DAY1, DAY2):
        out = s["tmp"] / f"audit-{day}.json"
        r = _mixbot(
            "audit", "export", str(s["cfg"]), "--date", day, "--format", "json", "--out", str(out)
        )
        assert r.returncode == 0, r.stderr
        doc = json.loads(out.read_text())
        assert doc["chain_intact"] is True
        exported += [row["data"] for row in doc["rows"] if row["kind"] == "fill"]
    key = lambda d: (d["tag"], d["seq"])  # noqa: E731
    assert sorted(map(key, exported)) == sorted((f["order_tag"], f["seq"]) for f in fills)
    r = _mixbot("audit", "verify", str(s["cfg"]))
    assert r.returncode == 0 and "audit log intact" in r.stdout, r.stdout + r.stderr
    engine = create_engine(s["url"])
    with engine.begin() as c:
        c.execute(text("DROP TRIGGER events_append_only"))
        c.execute(text("UPDATE events SET message = message || ' (edited)' WHERE kind = 'fill'"))
    engine.dispose()
    r = _mixbot("audit", "verify", str(s["cfg"]))
    assert r.returncode != 0 and "row" in (r.stdout + r.stderr)


def test_a_panic_while_the_bot_is_gone_is_booked_when_it_starts_again(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 while the bot holds a position, `mixbot panic` with no bot running (the venue
    is flattened, the bot's share under its own tag), then `mixbot run`: the restarted bot
    adopts the panic's exit, books the trade (exit reason ``panic``) and enters nothing more:
    it stays halted until an operator resumes it."""
    monkeypatch.chdir(tmp_path)
    sim = simulator(
        data_dir, tmp_path, DAY1, cash=10_000_000.0, hold_without_client=True,
        freeze_quantity=FREEZE,
    )  # fmt: skip
    sim.start()
    url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    try:
        for k, v in {**sim.env(), **APP, "MIXBOT_DATABASE_URL": url}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("MIXBOT_UPSTOX_TOKEN_FILE", str(tmp_path / "token.json"))
        monkeypatch.delenv("UPSTOX_ACCESS_TOKEN", raising=False)
        cfg = _config(tmp_path)
        assert login()[0] == 0
        cmd = [sys.executable, "-m", "mixbot", "run", str(cfg), "--no-progress", "--fresh"]
        bot = subprocess.Popen(cmd, env=dict(os.environ), stderr=subprocess.PIPE)

        def holding() -> bool:
            if bot.poll() is not None or not Path(url[10:]).exists():
                return bot.poll() is not None
            store = Store(url, BOT, "live", create=False)
            try:
                return store.find_bot() is not None and any(p["qty"] for p in store.positions())
            finally:
                store.close()

        _wait(holding, "the bot holding a position")
        assert bot.poll() is None, bot.stderr.read().decode()[-3000:] if bot.stderr else ""
        bot.send_signal(signal.SIGKILL)
        bot.wait(30)
        panic = _mixbot("panic", str(cfg), "--yes", "--reason", "bot gone")
        # (the market stands still while no bot is connected: the exits fill once it is back)
        assert panic.returncode in (0, 1), panic.stdout + panic.stderr
        assert "exit BANKNIFTY" in panic.stdout
        again = _mixbot("run", str(cfg), "--no-progress", timeout=600)
        assert again.returncode == 0, again.stderr[-3000:]
        assert all(p["quantity"] == 0 for p in sim.exchange.positions())
        out = {"trades": sim.exchange.trades(), "orders": sim.exchange.orders()}
    finally:
        sim.stop()
    store = Store(url, BOT, "live", create=False)
    try:
        _books_agree(out, store)
        trades = store.trades()
        assert trades and trades[-1]["exit_reason"] == "panic"
        assert json.loads(trades[-1]["exit_parts"])[0]["tag"].startswith(f"{BOT}:pn")
        assert not any(p["qty"] for p in store.positions())
        assert [t["entry_tag"] for t in trades].count(trades[-1]["entry_tag"]) == 1
        assert store.load_checkpoint()["state"]["risk"]["halted"] is True
        _trades_agree({**out, "cfg": cfg, "tmp": tmp_path, "last_day": DAY1}, store)
    finally:
        store.close()
