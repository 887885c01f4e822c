"""The Upstox portfolio-stream websocket: live order updates for the broker.

1. ``GET {api}/v2/feed/portfolio-stream-feed/authorize?update_types=order`` (bearer token)
   answers ``data.authorized_redirect_uri``, a ONE-TIME ``wss://`` URL (each reconnect
   authorizes again);
2. the client connects with :func:`mixbot.venues.upstox.http.hosts.ssl_context` (certificates
   verified) and reads TEXT frames, one JSON object per update; order updates carry
   ``update_type: "order"`` and the order-book row's fields (``order_id``, ``status``,
   ``filled_quantity``, ``average_price``, ``tag`` ...);
3. a lost connection is retried with exponential backoff (``backoff_initial`` doubling up to
   ``backoff_max``, jittered); :attr:`PortfolioStream.connected` says whether updates flow,
   so the broker can poll the order book meanwhile, and :attr:`PortfolioStream.connects`
   counts connections (a reconnect means updates may have been missed: resync).

The stream runs an asyncio loop in a daemon thread; ``on_update`` is called from that thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from mixbot.venues.upstox.http import hosts
from mixbot.venues.upstox.http.errors import TokenExpiredError, TokenMissingError, UpstoxError

log = logging.getLogger(__name__)

AUTHORIZE_PATH = "/v2/feed/portfolio-stream-feed/authorize"


def authorized_uri(body: Any) -> str:
    """The wss URL of an authorize answer (``data.authorized_redirect_uri``)."""
    data = body.get("data") if isinstance(body, dict) else None
    uri = None
    if isinstance(data, dict):
        uri = data.get("authorized_redirect_uri") or data.get("authorizedRedirectUri")
    if not uri:
        raise UpstoxError(f"portfolio stream authorize: no authorized_redirect_uri ({body!r:.200})")
    return str(uri)


class PortfolioStream:
    """Order updates from the portfolio stream, with reconnect and backoff.

    Args:
        client_factory: makes the REST client used to authorize (an ``UpstoxClient``).
        on_update: called with every order update (a dict), from the stream's thread.
        update_types: the ``update_types`` query value.
        backoff_initial, backoff_max: reconnect backoff bounds, seconds.
    """

    def __init__(
        self,
        client_factory: Callable[[], Any],
        on_update: Callable[[dict[str, Any]], None],
        *,
        update_types: str = "order",
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.client_factory = client_factory
        self.on_update = on_update
        self.update_types = update_types
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.connected = False
        self.connects = 0
        self.error: BaseException | None = None
        self._client: Any = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        """Start the stream thread (returns at once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name="upstox-portfolio", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and join the thread (idempotent)."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # loop already closed
                pass
        if thread is not None:
            thread.join(timeout)
        self._thread = None
        self.connected = False
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass
            self._client = None

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        finally:
            loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self._ready.set()
        failures = 0
        while not self._stop.is_set():
            try:
                got = await self._once()
                failures = 0 if got else failures + 1
            except (TokenExpiredError, TokenMissingError) as exc:
                gate = getattr(self._client, "gate", None)
                if isinstance(exc, TokenExpiredError) and gate is not None:
                    # the session's token died (03:30 IST): wait for `mixbot upstox login`
                    self.connected = False
                    gate.refused(exc)
                    if await gate.wait_renewed(self._stop.is_set):
                        continue
                    return
                log.error("portfolio stream stopped: %s", exc)
                self.error = exc
                return
            except Exception as exc:  # network, protocol, 5xx: retried
                failures += 1
                log.warning("portfolio stream lost: %s: %s", type(exc).__name__, exc)
            self.connected = False
            if self._stop.is_set():
                return
            base = min(self.backoff_max, self.backoff_initial * 2 ** max(0, failures - 1))
            delay = base / 2 + random.uniform(0, base / 2)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def _authorize(self) -> str:
        def call() -> str:
            if self._client is None:
                self._client = self.client_factory()
            params = {"update_types": self.update_types} if self.update_types else None
            return authorized_uri(self._client.get(AUTHORIZE_PATH, params=params))

        return await asyncio.to_thread(call)

    async def _once(self) -> bool:
        """One connection; True when it delivered at least one update."""
        from websockets.asyncio.client import connect

        assert self._stop is not None
        uri = await self._authorize()
        ssl_ctx = hosts.ssl_context() if uri.startswith("wss://") else None
        got = False
        async with connect(
            uri, ssl=ssl_ctx, open_timeout=10, close_timeout=2.0, compression=None, proxy=None
        ) as ws:
            self.connected = True
            self.connects += 1
            log.info("portfolio stream connected (%d)", self.connects)
            stop_task = asyncio.create_task(self._stop.wait())
            try:
                while True:
                    recv = asyncio.create_task(ws.recv())
                    done, _ = await asyncio.wait(
                        {recv, stop_task}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if stop_task in done:
                        recv.cancel()
                        return got
                    msg = recv.result()  # raises ConnectionClosed at the end
                    if isinstance(msg, bytes):
                        msg = msg.decode("utf-8", "replace")
                    try:
                        update = json.loads(msg)
                    except ValueError:
                        log.warning("portfolio stream: not JSON: %.200r", msg)
                        continue
                    if not isinstance(update, dict):
                        continue
                    got = True
                    if update.get("update_type", "order") == "order":
                        try:
                            self.on_update(update)
                        except Exception:
                            log.exception("portfolio stream: on_update failed")
            finally:
                stop_task.cancel()
