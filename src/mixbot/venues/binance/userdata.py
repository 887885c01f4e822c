"""The spot user-data stream over Binance's WebSocket API (the listenKey stream of the REST
API is retired for spot): ``userDataStream.subscribe.signature`` on ``<ws>/ws-api/v3``, then
``{"subscriptionId", "event": {...}}`` messages (``executionReport``,
``outboundAccountPosition``, ``balanceUpdate``).

Signing (Binance docs, "WebSocket API > Request security", verified): the request's params
(``apiKey``, ``timestamp`` ms) sorted by name, ``k=v`` joined with ``&``, HMAC-SHA256 with the
secret, hex. The secret is never logged (errors show the server's message only).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def signed_params(api_key: str, secret: str, now_ms: int | None = None) -> dict[str, Any]:
    """``apiKey``, ``timestamp`` and their ``signature`` (see the module docstring)."""
    params: dict[str, Any] = {"apiKey": api_key, "timestamp": now_ms or int(time.time() * 1000)}
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
    params["signature"] = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return params


class UserDataStream:
    """A background thread that keeps the subscription alive and hands every event to
    ``on_event`` (from its thread). Reconnects with backoff (0.5 s doubling to 30 s);
    ``on_connect`` runs after each successful subscribe (the broker re-reads its orders).

    Raises (from :meth:`start`'s thread, logged): the subscription refused (bad key or
    signature) stops the stream; ``error`` holds the reason.
    """

    def __init__(
        self, url: str, api_key: str, secret: str,
        on_event: Callable[[dict[str, Any]], None],
        on_connect: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        self.url, self._key, self._secret = url, api_key, secret
        self.on_event, self.on_connect = on_event, on_connect
        self.error: str | None = None
        self.connects = 0
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: Any = None

    def start(self) -> UserDataStream:
        self._thread = threading.Thread(target=self._run, name="binance-user", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        from websockets.sync.client import connect

        delay = 0.5
        while not self._stop.is_set():
            try:
                with connect(self.url, open_timeout=10, close_timeout=2) as ws:
                    self._ws = ws
                    ws.send(json.dumps({"id": "sub", "method": "userDataStream.subscribe.signature",
                                        "params": signed_params(self._key, self._secret)}))  # fmt: skip
                    for raw in ws:
                        msg = json.loads(raw)
                        if msg.get("id") == "sub":
                            if msg.get("status") != 200:
                                self.error = str((msg.get("error") or {}).get("msg"))
                                log.error("Binance user-data subscribe refused: %s", self.error)
                                return
                            self.connects += 1
                            delay = 0.5
                            self.subscribed.set()
                            if self.on_connect is not None:
                                self.on_connect()
                        elif isinstance(msg.get("event"), dict):
                            self.on_event(msg["event"])
            except Exception as exc:  # noqa: BLE001 - network: reconnect
                if self._stop.is_set():
                    return
                log.warning("Binance user-data stream lost (%s): reconnect in %.1f s",
                            type(exc).__name__, delay)  # fmt: skip
            self.subscribed.clear()
            self._stop.wait(delay)
            delay = min(30.0, delay * 2)
