"""Kill-switch time on the local Upstox simulator: from the panic command to every order
cancelled and every position exited, p50/p99 over ``--runs`` runs.

    .venv/bin/python benchmarks/kill_switch.py              # 20 runs, both paths
    .venv/bin/python benchmarks/kill_switch.py --runs 5 --no-cli

Each run puts the simulated account where a bot is mid-trade: a long position of 40
BANKNIFTY futures (bought at MARKET with the official Upstox SDK), its stop-loss (SL-M) and
its take-profit (LIMIT) open; then the kill switch runs and the time is taken until the
simulator's exchange has no open order and the position is flat (its own order book and
positions, read in-process every millisecond). Two paths:

- service: ``BotService.panic(config)`` in-process: what Telegram ``/panic``, the web GUI
  and ``mixbot panic`` run (cancel every open order, exit every position at MARKET, halt the
  bot in its store, audit each step);
- cli: ``mixbot panic CONFIG --yes`` as a new process (adds the interpreter start and the
  imports, ~1-2 s, which a running GUI or Telegram poller does not pay).

The simulator's market moves at ``--speed`` simulated seconds per second (default 60); its
REST answers take what the local server takes (no network latency: add your round trip to
Upstox, ~20-50 ms per call from India, times the calls: 1 order book, 1 positions, 1 cancel
per open order, 1 trade book read (the bot's own share of a position), 1 exit per position
(2 when a manual position sits beside the bot's), 1 re-check). Real data: BANKNIFTY 1-minute, 2019-01-01.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mixbot.paths import REPO_ROOT, sample_data_dir

KEY = "NSE_FO|35005"  # the simulator's BANKNIFTY future of the 2019 file (lot 20)
QTY = 40


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def _sdk(sim: Any) -> Any:
    import upstox_client

    conf = upstox_client.Configuration()
    conf.host = conf.order_host = sim.base_url
    conf.ssl_ca_cert = str(sim.ca_path)
    conf.access_token = sim.token
    return upstox_client.OrderApiV3(upstox_client.ApiClient(conf))


def _order(api: Any, side: str, kind: str, price: float = 0.0, trigger: float = 0.0) -> None:
    import upstox_client

    api.place_order(
        upstox_client.PlaceOrderV3Request(
            quantity=QTY,
            product="I",
            validity="DAY",
            price=price,
            tag="bench-bot:1:x",
            instrument_token=KEY,
            order_type=kind,
            transaction_type=side,
            disclosed_quantity=0,
            trigger_price=trigger,
            is_amo=False,
            slice=False,
        )  # fmt: skip
    )


def _flat(sim: Any) -> bool:
    ex = sim.exchange
    if any(o["instrument_token"] == KEY and o["status"] in _OPEN for o in ex.orders()):
        return False
    return all(int(p.get("quantity") or 0) == 0 for p in ex.positions())


_OPEN = {"open", "trigger pending", "put order req received", "validation pending"}


def _mid_trade(sim: Any, api: Any) -> None:
    """Long 40 with a stop below and a target above, all at the simulated exchange."""
    _order(api, "BUY", "MARKET")
    deadline = time.monotonic() + 60
    while not any(int(p.get("quantity") or 0) == QTY for p in sim.exchange.positions()):
        if time.monotonic() > deadline:
            raise SystemExit("the entry did not fill within 60 s: is the replay running?")
        time.sleep(0.01)
    ltp = sim.exchange.ltps()[KEY]
    _order(api, "SELL", "SL-M", trigger=round(ltp * 0.97 / 0.05) * 0.05)
    _order(api, "SELL", "LIMIT", price=round(ltp * 1.03 / 0.05) * 0.05)


def _timed(sim: Any, go: Any) -> float:
    t0 = time.perf_counter()
    go()
    while not _flat(sim):
        if time.perf_counter() - t0 > 60:
            raise SystemExit("the kill switch left orders or a position open for 60 s")
        time.sleep(0.001)
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--no-cli", action="store_true", help="skip the subprocess path")
    args = ap.parse_args()
    from mixbot.service.bots import BotService
    from mixbot.simulators.upstox import Simulator

    data = sample_data_dir()
    if data is None:
        raise SystemExit("no ../shared/data folder: the benchmark needs the real BANKNIFTY file")
    work = Path(tempfile.mkdtemp(prefix="mixbot-bench-kill-"))
    sim = Simulator(
        files=[data / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"],
        speed=args.speed,
        start="2019-01-01",
        end="2019-01-01",
        tls_dir=work / "tls",
        wait_for_client=False,
        cash=50_000_000.0,
    )
    sim.start()
    os.environ.update(sim.env())
    db = f"sqlite:///{work / 'live.sqlite'}"
    os.environ["MIXBOT_DATABASE_URL"] = db
    doc = json.loads((REPO_ROOT / "config/trading/live/upstox_sim_orders.json").read_text())
    doc["bot_id"] = "bench-bot"
    cfg = work / "bench-bot.json"
    cfg.write_text(json.dumps(doc))
    api = _sdk(sim)
    times: dict[str, list[float]] = {"service": [], "cli": []}
    try:
        while not sim.exchange.session_open:
            time.sleep(0.01)
        svc = BotService(database_url=db)
        for i in range(args.runs):
            _mid_trade(sim, api)
            times["service"].append(
                _timed(sim, lambda i=i: svc.panic(cfg, reason=f"bench {i}", source="bench"))
            )
            if args.no_cli:
                continue
            _mid_trade(sim, api)
            cmd = [sys.executable, "-m", "mixbot", "panic", str(cfg), "--yes"]
            times["cli"].append(
                _timed(sim, lambda c=cmd: subprocess.run(c, capture_output=True, check=False))
            )
        svc.close()
    finally:
        sim.stop()
    print(f"kill switch on the Upstox simulator: {args.runs} runs, each from a long {QTY} "
          "BANKNIFTY with its SL-M and LIMIT open to flat with nothing open")  # fmt: skip
    for path, xs in times.items():
        if xs:
            print(
                f"  {path:8s}: p50 {_pct(xs, 50):7.1f} ms, p99 {_pct(xs, 99):7.1f} ms, "
                f"max {max(xs):7.1f} ms"
            )
    ok = bool(times["service"]) and _pct(times["service"], 99) < 1000
    print(f"target (service path p99 < 1 s): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
