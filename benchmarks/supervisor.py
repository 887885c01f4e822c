"""20 replayed 1-minute bots under one `mixbot serve`: memory, idle CPU, bar-to-order latency.

    .venv/bin/python benchmarks/supervisor.py                 # 20 bots, 120 bars each
    .venv/bin/python benchmarks/supervisor.py --same-day      # the worst case (see below)
    .venv/bin/python benchmarks/supervisor.py --bots 5 --bars 60

Each bot is config/trading/0003.json (BANKNIFTY 1-minute, real data) with its own bot id,
replayed at ``--speed`` (60: one 1-minute bar per second). All replays are aligned on one
wall clock (``MIXBOT_REPLAY_EPOCH``), so every bot gets each bar at the same instant: "all
20 get a bar in the same minute", once per bar. By default bot i replays the i-th trading
day from ``--day`` (like 20 bots on 20 instruments: their orders fall on different bars);
``--same-day`` gives every bot the same day, so all 20 also decide, fill and write their
orders on the same bars (their CPU on 2 cores and the store's single writer then bound the latency).

Phases:
1. start: `mixbot serve` spawns the bots; they load data, warm up and wait for the epoch;
2. idle: for ``--idle`` seconds before the epoch, the CPU time of the supervisor and all
   bots (utime+stime from /proc) over wall time = idle CPU in % of one core;
3. active: ``--bars`` bars per bot; each bot logs (``MIXBOT_LATENCY_LOG``), per bar, the ms
   from the feed releasing the bar to the bar's checkpoint being committed (every decision,
   any order sent and the store write done: an upper bound of bar-close-to-order), and per
   order the ms to its hand-off to the broker; resident memory (VmRSS) of every process
   is sampled;
4. SIGTERM to the supervisor: seconds until every process is gone.

Prints the figures; exit 1 when a target is missed (idle CPU < 5 % of one core, p99 < 50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mixbot.paths import REPO_ROOT, sample_data_dir

TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _cpu_s(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(f[11]) + int(f[12])) / TICK  # utime + stime


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100.0 * (len(v) - 1))))] if v else float("nan")


DATA_FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"


def _trading_days(path: Path, first: str, n: int) -> list[str]:
    """The first ``n`` trading days (ISO dates) on or after ``first`` in the data file."""
    start, days = first.replace("-", ""), []
    with path.open(encoding="ascii") as fh:
        for line in fh:
            d = line.split(",", 2)[1]
            if d >= start and (not days or days[-1] != d):
                days.append(d)
                if len(days) == n:
                    break
    return [f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in days]


def _configs(folder: Path, data: Path, speed: float, days: list[str]) -> list[Path]:
    """One bot config per entry of ``days`` (the IST day that bot replays)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = json.loads((REPO_ROOT / "config/trading/0003.json").read_text())
    out = []
    for i, day in enumerate(days, start=1):
        doc = json.loads(json.dumps(base))
        doc["bot_id"] = f"bench{i:02d}"
        doc["data"].update(
            path=str(data / DATA_FILE),
            speed=speed,
            **{"from": day, "to": day},
        )
        doc.pop("logging", None)
        p = folder / f"bench{i:02d}.json"
        p.write_text(json.dumps(doc))
        out.append(p)
    return out


def _import_rss() -> float:
    """RSS (MB) of a bare interpreter that imported what a bot imports, for the breakdown."""
    code = (
        "import backtrader, numpy, pandas, talib, sqlalchemy, alembic, mixbot.engine.runner;"
        "print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--bots", type=int, default=20)
    ap.add_argument("--bars", type=int, default=120, help="bars per bot in the active phase")
    ap.add_argument("--speed", type=float, default=60.0, help="replay speed (60 = a bar a second)")
    ap.add_argument("--idle", type=float, default=20.0, help="seconds of the idle measurement")
    ap.add_argument("--startup", type=float, default=60.0, help="seconds allowed to start all bots")
    ap.add_argument(
        "--day",
        default="2019-04-18",
        help="the first replayed IST day: bot i replays the i-th trading day from it, like 20 "
        "bots on 20 instruments (default 2019-04-18)",
    )
    ap.add_argument(
        "--same-day",
        action="store_true",
        help="every bot replays --day: identical bots deciding, filling and checkpointing on "
        "the same bars (the worst case; on 2019-04-18 all enter at bars 25 and 64 and exit "
        "at bar 58)",
    )
    args = ap.parse_args()
    data = sample_data_dir()
    if data is None:
        print(
            "real market data not found: set MIXBOT_DATA or put it at ../shared/data",
            file=sys.stderr,
        )
        return 2
    work = Path(tempfile.mkdtemp(prefix="mixbot-bench-sup-"))
    if args.same_day:
        days = [args.day] * args.bots
    else:
        days = _trading_days(data / DATA_FILE, args.day, args.bots)
    _configs(work / "bots", data, args.speed, days)
    epoch = time.time() + args.startup + args.idle
    env = {
        **os.environ,
        "MIXBOT_DATABASE_URL": f"sqlite:///{work / 'store.sqlite'}",
        "MIXBOT_REPLAY_EPOCH": f"{epoch:.3f}",
        "MIXBOT_LATENCY_LOG": str(work / "latency" / "{bot_id}.txt"),
    }
    print(
        f"{args.bots} bots, {args.bars} bars each at speed {args.speed:g}, replaying "
        + (
            f"{args.day} (all the same day)"
            if args.same_day
            else f"{days[0]} .. {days[-1]} (a day each)"
        )
        + f"; work dir {work}"
    )
    serve = subprocess.Popen(
        [sys.executable, "-m", "mixbot", "serve", "--fresh", str(work / "bots")],
        cwd=work,
        env=env,
        stdout=(work / "serve.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    time.sleep(max(0.0, epoch - args.idle - time.time()))
    pids = [serve.pid, *_children(serve.pid)]
    if len(pids) != args.bots + 1:
        print(
            f"only {len(pids) - 1} bot processes after {args.startup:g} s: raise --startup",
            file=sys.stderr,
        )
    cpu0, t0 = {p: _cpu_s(p) for p in pids}, time.monotonic()
    time.sleep(max(0.0, epoch - time.time() - 0.5))
    span = time.monotonic() - t0
    idle = {p: (_cpu_s(p) - cpu0[p]) / span * 100.0 for p in pids}
    idle_pct = sum(idle.values())
    rss_peak: dict[int, float] = {}
    end = epoch + args.bars / args.speed * 60.0
    while time.time() < end:
        for p in pids:
            rss_peak[p] = max(rss_peak.get(p, 0.0), _rss_mb(p))
        time.sleep(0.5)
    t_stop = time.monotonic()
    serve.send_signal(signal.SIGTERM)
    serve.wait(timeout=120)
    down = time.monotonic() - t_stop
    left = [p for p in pids[1:] if Path(f"/proc/{p}").exists()]
    bars: list[float] = []
    orders: list[float] = []
    for f in (work / "latency").glob("*.txt"):
        for line in f.read_text().splitlines():
            kind, _bar, ms = line.split()
            (bars if kind == "bar" else orders).append(float(ms))
    sup_rss = rss_peak.get(serve.pid, 0.0)
    bot_rss = [v for p, v in rss_peak.items() if p != serve.pid]
    base = _import_rss()
    print(
        f"idle CPU (supervisor + {len(pids) - 1} bots waiting for a bar, {span:.0f} s): "
        f"{idle_pct:.2f} % of one core; supervisor {idle[serve.pid]:.2f} %, bots "
        f"{idle_pct - idle[serve.pid]:.2f} % ({(idle_pct - idle[serve.pid]) / max(1, len(pids) - 1):.3f} % each)"
    )
    print(
        f"resident memory: {sum(rss_peak.values()):,.0f} MB in total; supervisor {sup_rss:.0f} MB; "
        f"per bot {sum(bot_rss) / max(1, len(bot_rss)):.0f} MB mean, {max(bot_rss, default=0):.0f} MB max"
    )
    print(
        f"  of which a bare interpreter with the bot's imports (backtrader, pandas, numpy, TA-Lib, "
        f"SQLAlchemy, mixbot) is {base:.0f} MB per process"
    )
    print(
        f"bar released -> checkpoint committed: {len(bars)} bars, p50 {_pct(bars, 50):.1f} ms, "
        f"p99 {_pct(bars, 99):.1f} ms, max {max(bars, default=float('nan')):.1f} ms"
    )
    print(
        f"bar released -> order handed to the broker: {len(orders)} orders, p50 {_pct(orders, 50):.1f} ms, "
        f"p99 {_pct(orders, 99):.1f} ms"
    )
    print(f"SIGTERM -> every process down: {down:.1f} s ({len(left)} left)")
    ok = idle_pct < 5.0 and _pct(bars, 99) < 50.0 and not left
    print("targets (idle < 5 % of a core, p99 < 50 ms, all down):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
