"""``mixbot feed-test --source openalgo SYMBOL``: connect the OpenAlgo websocket with the
official client, subscribe in quote mode, print the quotes for ``--seconds`` seconds.

Host, websocket and key: ``MIXBOT_OPENALGO_HOST`` / ``MIXBOT_OPENALGO_WS`` /
``OPENALGO_API_KEY`` (defaults: OpenAlgo's local 127.0.0.1:5000 and :8765). SYMBOL may be
``EXCHANGE:SYMBOL`` (default exchange NSE). Exit 0 when at least one quote arrived, 1 when
none did, 2 when the connection or authentication failed.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from mixbot.venues.openalgo.config import HOST_ENV, SCHEMA, WS_ENV


def cmd_feed_test(args: Any) -> int:
    """Run the feed test (see the module docstring); the exit status."""
    import openalgo

    props = SCHEMA["properties"]
    key = os.environ.get("OPENALGO_API_KEY", "").strip()
    if not key:
        print("feed-test: OPENALGO_API_KEY is not set")
        return 2
    exchange, _, symbol = str(args.symbol).rpartition(":")
    exchange = exchange or "NSE"
    client = openalgo.api(
        api_key=key,
        host=os.environ.get(HOST_ENV) or props["host"]["default"],
        ws_url=os.environ.get(WS_ENV) or props["ws_url"]["default"],
    )
    if not client.connect():
        print("feed-test: could not connect or authenticate to the OpenAlgo websocket")
        return 2
    seen = [0]
    cap = max(1, int(getattr(args, "max_ticks_per_s", 20) or 20))

    def on_quote(msg: dict[str, Any]) -> None:
        seen[0] += 1
        if seen[0] <= cap * max(1.0, float(args.seconds)):
            d = msg.get("data") or {}
            print(
                f"{exchange}:{symbol} ltp {d.get('ltp')} volume {d.get('volume')} ts {d.get('timestamp')}"
            )

    client.subscribe_quote([{"exchange": exchange, "symbol": symbol}], on_data_received=on_quote)
    threading.Event().wait(float(args.seconds))
    client.disconnect()
    print(f"feed-test: {seen[0]} quotes in {float(args.seconds):g} s")
    return 0 if seen[0] else 1
