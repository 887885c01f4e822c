"""``mixbot feed-test --source ibkr SYMBOL[:SECTYPE[:EXCHANGE[:CURRENCY]]] [--seconds N]``.

Connects to TWS / IB Gateway (``MIXBOT_IBKR_HOST`` / ``MIXBOT_IBKR_PORT``, default
127.0.0.1:7497, client id 99), qualifies the contract (default ``STK:SMART:USD``), prints the
last ``--lookback`` 1-minute history bars, then the 5-second real-time bars (at most
``--max-ticks-per-s`` lines a second) and the 1-minute bars they make, for ``--seconds``
wall seconds. It acknowledges each minute with ``reqCurrentTime``, so the lockstep
simulator (speed 0) keeps moving. Times are printed in UTC. Exit status: 0 ok, 2 IB not
reachable or the contract unknown.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

from mixbot.venues.ibkr.config import IbkrConfig


def _config(spec: str) -> tuple[str, IbkrConfig]:
    parts = spec.split(":")
    sym = parts[0]
    sec = parts[1] if len(parts) > 1 else "STK"
    exch = parts[2] if len(parts) > 2 else "SMART"
    cur = parts[3] if len(parts) > 3 else ("INR" if exch == "NSE" else "USD")
    env = os.environ
    return sym, IbkrConfig(
        host=env.get("MIXBOT_IBKR_HOST", "127.0.0.1"),
        port=int(env.get("MIXBOT_IBKR_PORT", "7497")),
        client_id=99,
        sec_type=sec,
        exchange=exch,
        currency=cur,
    )


def run(args: argparse.Namespace) -> int:
    """Run the feed test (module docstring)."""
    from mixbot.venues.ibkr.session import IbkrError, IbkrSession

    sym, cfg = _config(args.symbol)
    session = IbkrSession(cfg)
    try:
        try:
            contract = session.contract(sym)
        except IbkrError as exc:
            print(f"error: {exc}")
            return 2
        print(f"connected to {cfg.host}:{cfg.port}; contract {contract}")
        hist = session.call(
            session.ib.reqHistoricalDataAsync, contract, "", "1 D", "1 min", "TRADES", True, 2,
            timeout=120,
        )  # fmt: skip
        print(f"history: {len(hist)} 1-minute bars")
        for b in hist[-max(0, int(args.lookback)) :] if args.lookback else []:
            print(
                f"  {b.date:%Y-%m-%d %H:%M} o={b.open} h={b.high} l={b.low} c={b.close} v={b.volume:g}"
            )
        _stream(session, contract, args)
        return 0
    finally:
        session.close()


def _stream(session: Any, contract: Any, args: argparse.Namespace) -> None:
    done = threading.Event()
    state: dict[str, Any] = {"n": 0, "second": 0, "printed": 0, "minute": None}
    limit = max(1, int(getattr(args, "max_ticks_per_s", 5) or 5))

    def on_bar(bars: Any, has_new: bool) -> None:
        b = bars[-1]
        state["n"] += 1
        sec = int(time.monotonic())
        if sec != state["second"]:
            state["second"], state["printed"] = sec, 0
        if state["printed"] < limit:
            state["printed"] += 1
            print(
                f"  5s {b.time:%Y-%m-%d %H:%M:%S} o={b.open_} h={b.high} l={b.low} c={b.close} v={b.volume:g}"
            )
        start = int(b.time.timestamp())
        if (start + 5) % 60 == 0:
            print(
                f"minute bar ending {time.strftime('%Y-%m-%d %H:%M', time.gmtime(start + 5))} UTC"
            )
            session.ib.client.reqCurrentTime()

    def on_error(req_id: int, code: int, text: str, contract: Any = None) -> None:
        if code == 162:
            print(f"IB error {code}: {text}")
            done.set()

    def subscribe() -> Any:
        bars = session.ib.reqRealTimeBars(contract, 5, "TRADES", False)
        bars.updateEvent += on_bar
        session.ib.errorEvent += on_error
        return bars

    bars = session.call(subscribe)
    done.wait(float(args.seconds))
    session.call(lambda: session.ib.cancelRealTimeBars(bars))
    print(f"{state['n']} real-time bars in {float(args.seconds):g} s")
