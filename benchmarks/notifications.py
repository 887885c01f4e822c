"""Alert latency, and bar-to-order latency with the Telegram server healthy vs stalled.

    .venv/bin/python benchmarks/notifications.py                # 5 bots, 90 bars, both phases
    .venv/bin/python benchmarks/notifications.py --bots 10 --bars 120 --stall 60

Each phase runs ``mixbot serve`` with a settings file whose Telegram channel points at the
local fake Bot API server of the tests (``tests/notify/bot_api.py``, real python-telegram-
bot talking to it through ``MIXBOT_TELEGRAM_API``), and ``--bots`` replayed 1-minute
BANKNIFTY bots (config 0003, one trading day each from ``--day``, all bars released at the
same instants as in ``benchmarks/supervisor.py``) sending every event to two users.

- healthy: the server answers at once. Alert latency = the server receiving ``sendMessage``
  minus the event's commit time in the store (``outbox.created_at``), p50/p99;
- stalled: the server holds every request ``--stall`` seconds (python-telegram-bot times
  out and the outbox retries). Nothing reaches the user while it is stalled.

In both phases each bot logs bar-released -> checkpoint-committed and bar -> order-handed-
to-broker (``MIXBOT_LATENCY_LOG``): the figures must not differ beyond noise, because
sending runs in the supervisor process, never in a bot's. Prints the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from supervisor import DATA_FILE, _configs, _pct, _trading_days

from mixbot.bus.events import EVENT_TYPES
from mixbot.paths import REPO_ROOT, sample_data_dir

sys.path.insert(0, str(REPO_ROOT))
from tests.notify.bot_api import TOKEN, BotApiServer  # noqa: E402

USERS = (111, 222)


def _phase(
    name: str, args: argparse.Namespace, data: Path, stall_s: float
) -> dict[str, list[float]]:
    work = Path(tempfile.mkdtemp(prefix=f"mixbot-bench-notify-{name}-"))
    days = _trading_days(data / DATA_FILE, args.day, args.bots)
    for cfg in _configs(work / "bots", data, args.speed, days):
        doc = json.loads(cfg.read_text())
        doc["data"]["to"] = doc["data"]["from"]
        doc["notifications"] = {
            "enabled": True,
            "telegram": {"enabled": True, "notify_on": list(EVENT_TYPES)},
        }
        cfg.write_text(json.dumps(doc))
    api = BotApiServer(stall_s=stall_s)
    base = api.start()
    settings = work / "mixbot.json"
    settings.write_text(
        json.dumps(
            {
                "telegram": {
                    "enabled": True,
                    "bot_token": "${TELEGRAM_BOT_TOKEN}",
                    "users": [{"id": u, "role": "operator"} for u in USERS],
                }
            }
        )
    )
    epoch = time.time() + args.startup
    env = {
        **os.environ,
        "MIXBOT_DATABASE_URL": f"sqlite:///{work / 'store.sqlite'}",
        "MIXBOT_REPLAY_EPOCH": f"{epoch:.3f}",
        "MIXBOT_LATENCY_LOG": str(work / "latency" / "{bot_id}.txt"),
        "MIXBOT_TELEGRAM_API": base,
        "TELEGRAM_BOT_TOKEN": TOKEN,
    }
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mixbot",
            "serve",
            "--fresh",
            "--forever",
            "--settings",
            str(settings),
            str(work / "bots"),
        ],
        cwd=work,
        env=env,
        stdout=(work / "serve.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    time.sleep(max(0.0, epoch + args.bars / args.speed * 60.0 - time.time()))
    time.sleep(2.0)  # the last alerts
    serve.send_signal(signal.SIGTERM)
    serve.wait(timeout=120)
    api.stop()
    out: dict[str, list[float]] = {"bar": [], "order": [], "alert": []}
    for f in (work / "latency").glob("*.txt"):
        for line in f.read_text().splitlines():
            kind, _bar, ms = line.split()
            out["bar" if kind == "bar" else "order"].append(float(ms))
    con = sqlite3.connect(work / "store.sqlite")
    rows = con.execute(
        "SELECT n.dest, o.created_at FROM notifications n JOIN outbox o ON o.seq = n.event_seq "
        "WHERE n.sent_at IS NOT NULL ORDER BY n.dest, n.sent_at, n.id"
    ).fetchall()
    out["queued"] = [float(con.execute("SELECT count(*) FROM notifications").fetchone()[0])]
    con.close()
    for chat in USERS:
        committed = [
            dt.datetime.fromisoformat(c).replace(tzinfo=dt.UTC).timestamp()
            for d, c in rows
            if d == str(chat)
        ]
        got = [c.wall for c in api.sent() if int(c.params["chat_id"]) == chat]
        out["alert"] += [(g - c) * 1000.0 for c, g in zip(committed, got)]
    out["delivered"] = [float(len(api.sent()))]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--bots", type=int, default=5)
    ap.add_argument("--bars", type=int, default=90, help="bars per bot")
    ap.add_argument("--speed", type=float, default=60.0, help="replay speed (60 = a bar a second)")
    ap.add_argument("--startup", type=float, default=40.0, help="seconds allowed to start all bots")
    ap.add_argument(
        "--stall", type=float, default=60.0, help="seconds the stalled server holds each request"
    )
    ap.add_argument("--day", default="2019-04-18", help="first replayed IST day")
    args = ap.parse_args()
    data = sample_data_dir()
    if data is None:
        print(
            "real market data not found: set MIXBOT_DATA or put it at ../shared/data",
            file=sys.stderr,
        )
        return 2
    print(
        f"{args.bots} bots, {args.bars} bars each at speed {args.speed:g}, every event to {len(USERS)} users"
    )
    for name, stall in (("healthy", 0.0), ("stalled", args.stall)):
        r = _phase(name, args, data, stall)
        line = (
            f"{name:8} bar->checkpoint p50 {_pct(r['bar'], 50):.1f} / p99 {_pct(r['bar'], 99):.1f} ms "
            f"({len(r['bar'])} bars); bar->order p50 {_pct(r['order'], 50):.1f} / p99 {_pct(r['order'], 99):.1f} ms "
            f"({len(r['order'])} orders); messages queued {r['queued'][0]:.0f}, received by the server {r['delivered'][0]:.0f}"
        )
        if r["alert"]:
            line += f"; alert latency p50 {_pct(r['alert'], 50):.0f} / p99 {_pct(r['alert'], 99):.0f} ms"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
