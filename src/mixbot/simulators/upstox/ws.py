"""The market-data websocket of the simulator (Upstox Market Data Feed V3 protocol).

Connecting: ``GET /v3/feed/market-data-feed/authorize`` (Bearer token) answers
``{"status":"success","data":{"authorized_redirect_uri": URI, "authorizedRedirectUri": URI}}``
with ``URI = wss://127.0.0.1:PORT/market-data-feeder/v3/upstox-developer-api/feeds?requestId=..&code=..``;
the ``code`` is single-use, as on Upstox (a reconnect needs a new authorize call). The SDK's
direct path ``wss://HOST/v3/feed/market-data-feed`` with an ``Authorization: Bearer`` header
is accepted too. A bad code gets HTTP 403, a bad token 401, an outage 503 (JSON envelopes).

Client -> server: BINARY (or text) frames of JSON
``{"guid": "...", "method": "sub"|"unsub"|"change_mode",
"data": {"mode": "ltpc"|"full"|"option_greeks"|"full_d30", "instrumentKeys": [...]}}``
(``sub`` without a mode means ``ltpc``). Server -> client: BINARY protobuf ``FeedResponse``
(:mod:`.feed`): first a ``market_info``, then per subscription an ``initial_feed``, then
``live_feed`` messages. A bad request or one exceeding the subscription limits is REJECTED
as a whole and answered with one TEXT frame holding the Upstox error envelope plus the
request ``guid``; the connection stays open. Simulator codes: ``UDAPI100101`` bad request,
``UDAPI100102`` limit exceeded.

Limits (per connection, Upstox V3 "normal" tier): ltpc 5000, option_greeks 3000, full 2000,
full_d30 50 keys; when several modes are in use the total is capped by the smallest limit
among them. Keys unknown to the simulator count but get no data.

End of data: after the final ``NORMAL_CLOSE`` market_info the server closes with code 1000.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from typing import Any

from aiohttp import WSMsgType, web

from mixbot.simulators.upstox.errors import envelope
from mixbot.simulators.upstox.faults import Faults
from mixbot.simulators.upstox.feed import MODES
from mixbot.simulators.upstox.replay import Event, Replay, Subscriber

LIMITS: dict[str, int] = {"ltpc": 5000, "option_greeks": 3000, "full": 2000, "full_d30": 50}
END_REASON = b"end of replay"


class WsError(Exception):
    """A rejected client request (answered as a TEXT error frame)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_limits(subs: dict[str, str], limits: dict[str, int]) -> None:
    """Raise :class:`WsError` when ``subs`` (key -> mode) exceeds ``limits``."""
    counts: dict[str, int] = {}
    for mode in subs.values():
        counts[mode] = counts.get(mode, 0) + 1
    for mode, n in counts.items():
        if n > limits[mode]:
            raise WsError(
                "UDAPI100102",
                f"Subscription limit exceeded: {n} keys in mode {mode} (max {limits[mode]})",
            )
    if len(counts) > 1:
        cap = min(limits[m] for m in counts)
        if len(subs) > cap:
            raise WsError(
                "UDAPI100102",
                f"Subscription limit exceeded: {len(subs)} keys over modes "
                f"{sorted(counts)} (combined max {cap})",
            )


def apply_request(
    raw: str | bytes, subs: dict[str, str], limits: dict[str, int]
) -> tuple[dict[str, str], dict[str, str]]:
    """Apply one client request to a copy of ``subs``.

    Returns:
        (the new subscriptions, the keys needing an initial_feed -> mode).

    Raises:
        WsError: malformed request or limits exceeded (``subs`` unchanged).
    """
    try:
        req = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WsError("UDAPI100101", "Invalid request: not JSON") from None
    if not isinstance(req, dict) or not isinstance(req.get("data"), dict):
        raise WsError("UDAPI100101", "Invalid request: expected {guid, method, data}")
    method = req.get("method")
    data = req["data"]
    keys = data.get("instrumentKeys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise WsError("UDAPI100101", "Invalid request: data.instrumentKeys must list keys")
    new = dict(subs)
    fresh: dict[str, str] = {}
    if method == "unsub":
        for k in keys:
            new.pop(k, None)
        return new, fresh
    mode = data.get("mode", "ltpc" if method == "sub" else None)
    if mode not in MODES:
        raise WsError("UDAPI100101", f"Invalid mode {mode!r}: use one of {list(MODES)}")
    if method not in ("sub", "change_mode"):
        raise WsError("UDAPI100101", f"Invalid method {method!r}: sub, unsub or change_mode")
    for k in keys:
        if method == "change_mode" and k not in new:
            continue
        new[k] = mode
        fresh[k] = mode
    check_limits(new, limits)
    return new, fresh


class Connection:
    """One websocket client: its sender (stream + faults) and receiver (requests)."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        replay: Replay,
        faults: Faults,
        limits: dict[str, int],
    ) -> None:
        self.ws, self.transport, self.replay, self.faults = ws, transport, replay, faults
        self.limits = limits
        self.sub: Subscriber = replay.add()
        self.opened = time.monotonic()
        self.drop_seen = faults.drop_epoch
        self.garbage_seen = faults.garbage_epoch
        self.truncated_seen = faults.truncated_epoch
        self.truncate_next = 0

    def cut(self) -> None:
        """Abort the TCP connection (no close frame: the client sees 1006)."""
        if self.transport is not None:
            self.transport.abort()

    async def run(self) -> None:
        try:
            await self.ws.send_bytes(self.replay.info_message())
            if self.replay.finished:
                await self.ws.close(code=1000, message=END_REASON)
                return
            tasks = [
                asyncio.create_task(self._sender()),
                asyncio.create_task(self._receiver()),
                asyncio.create_task(self._dropper()),
            ]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in pending:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.replay.remove(self.sub)

    async def _dropper(self) -> None:
        while True:
            every = self.faults.drop_every_s
            if every:
                left = self.opened + every - time.monotonic()
                if left <= 0:
                    self.cut()
                    return
                await asyncio.sleep(min(left, 0.5))
            else:
                await asyncio.sleep(0.5)

    async def _check_faults(self) -> bool:
        """Apply pending faults; False when the connection was cut."""
        f = self.faults
        if f.drop_epoch != self.drop_seen:
            self.cut()
            return False
        while self.garbage_seen < f.garbage_epoch:
            self.garbage_seen += 1
            await self.ws.send_bytes(os.urandom(37))
        if self.truncated_seen < f.truncated_epoch:
            self.truncate_next += f.truncated_epoch - self.truncated_seen
            self.truncated_seen = f.truncated_epoch
        left = f.stall_left()
        if left > 0:
            while left > 0:  # re-read: a later stall(0) ends the stall early
                await asyncio.sleep(min(left, 0.05))
                left = f.stall_left()
            if self.replay.clock.speed > 0:  # what was produced meanwhile is lost
                q = self.sub.queue
                keep = [
                    e for e in _drain(q) if e is not None and e.kind in ("end", "raw", "raw-text")
                ]
                for e in keep:
                    q.put_nowait(e)
            return await self._check_faults()
        return True

    async def _sender(self) -> None:
        while True:
            ev = await self.sub.queue.get()
            if not await self._check_faults():
                return
            if ev is None:
                continue
            if ev.kind == "end":
                await self.ws.close(code=1000, message=END_REASON)
                return
            if ev.kind == "tick":
                mode = self.sub.subs.get(ev.key)
                if mode is None:
                    continue
                data = self.replay.encode(ev, mode)
            else:
                data = ev.data
            if self.truncate_next and ev.kind != "raw-text":
                self.truncate_next -= 1
                data = data[: max(1, len(data) // 2)]
            if ev.kind == "raw-text":
                await self.ws.send_str(data.decode())
            else:
                await self.ws.send_bytes(data)

    async def _receiver(self) -> None:
        async for msg in self.ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            guid = None
            with contextlib.suppress(Exception):
                guid = json.loads(msg.data).get("guid")
            try:
                new, fresh = apply_request(msg.data, self.sub.subs, self.limits)
            except WsError as err:
                body: dict[str, Any] = envelope(err.code, str(err))
                body["guid"] = guid
                await self.sub.queue.put(Event("raw-text", 0, data=json.dumps(body).encode()))
                continue
            if fresh:
                await self.sub.queue.put(Event("raw", 0, data=self.replay.snapshot(fresh)))
            self.sub.subs.clear()
            self.sub.subs.update(new)
            self.replay.poke()


def _drain(q: asyncio.Queue[Event | None]) -> list[Event | None]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out
