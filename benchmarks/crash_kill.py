"""Kill a replayed paper session with SIGKILL again and again, restart it, and check nothing was lost.

    .venv/bin/python benchmarks/crash_kill.py            # 100 kills (the issue's figure)
    .venv/bin/python benchmarks/crash_kill.py --kills 20 --to 2019-01-08

An intraday session of real BANKNIFTY 1-minute bars (config/trading/0003.json, January 2019
by default) is replayed once uninterrupted (the reference) and once killed ``--kills`` times:
~70 % of kills are injected at precise points of the write-ahead sequence (after an order
intent is committed, after a fill is committed, before and after a bar's checkpoint); ~30 %
are external ``kill -9`` sent by this script when the bot's checkpoint passes a random bar.
After the last restart the stored sessions are compared: orders, fills, trades, the equity
curve and the final checkpoint must be identical, with zero duplicate orders and zero lost
fills. Prints the tally; exit 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from mixbot.paths import REPO_ROOT, sample_data_dir
from mixbot.store.crashtest import kill_session


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--kills", type=int, default=100, help="number of kill points (default 100)")
    ap.add_argument(
        "--from", dest="date_from", default="2019-01-01", help="first IST date of the session"
    )
    ap.add_argument(
        "--to", dest="date_to", default="2019-01-31", help="last IST date of the session"
    )
    ap.add_argument("--seed", type=int, default=7, help="random seed of the kill points")
    ap.add_argument("--quiet", action="store_true", help="no line per kill")
    args = ap.parse_args()
    data = sample_data_dir()
    src = data / "nse_1min" / "BANKNIFTY_F1_2019H1.txt" if data else None
    if src is None or not src.exists():
        print(
            "crash_kill: market data not found (set MIXBOT_DATA or put it at ../shared/data)",
            file=sys.stderr,
        )
        return 2
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0003.json").read_text())
    doc.update(bot_id="crashbench")
    doc["data"].update(path=str(src), **{"from": args.date_from, "to": args.date_to})
    with tempfile.TemporaryDirectory(prefix="mixbot-crash-") as tmp:
        work = Path(tmp)
        cfg = work / "crashbench.json"
        cfg.write_text(json.dumps(doc))
        print(
            f"session: {src.name} {args.date_from} .. {args.date_to}, config 0003 (RSI+BB entry, trailing stop, "
            f"intraday square-off); {args.kills} kill points, seed {args.seed}"
        )
        t0 = time.monotonic()
        rep = kill_session(
            cfg,
            work,
            "crashbench",
            kills=args.kills,
            seed=args.seed,
            log=None if args.quiet else print,
        )
        took = time.monotonic() - t0
    c = rep.comparison
    ok = (
        c["equal"] and not c["duplicate_orders"] and not c["lost_fills"] and rep.kills == args.kills
    )
    print()
    print(
        f"kills landed        : {rep.kills}/{args.kills} ({rep.injected} injected at write-ahead points, "
        f"{rep.external} external kill -9)"
    )
    print(f"restarts            : {rep.restarts + 1}")
    print(f"duplicate orders    : {len(c['duplicate_orders'])}")
    print(f"lost fills          : {len(c['lost_fills'])}")
    print(f"extra fills         : {len(c['extra_fills'])}")
    print(
        f"identical to the uninterrupted run (orders, fills, trades, equity, final checkpoint): "
        f"{'YES' if c['equal'] else 'NO: ' + ', '.join(c['mismatched'])}"
    )
    if not c["equal"]:
        print(json.dumps(c["first_difference"], indent=2, default=str))
    print(f"time                : {took:.0f} s")
    print("RESULT: PASS" if ok else "RESULT: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
