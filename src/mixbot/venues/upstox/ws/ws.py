"""mixbot's own client of the Upstox Market Data Feed V3 websocket.

Not the SDK's feeder: that one turns TLS verification off and hard-codes the production URL.
Here every connection:

1. authorizes: ``GET {api}/v3/feed/market-data-feed/authorize`` with the bearer token
   (through :class:`~mixbot.venues.upstox.http.client.UpstoxClient`, so ``MIXBOT_UPSTOX_API``,
   TLS verification, rate limits and the 401 -> TokenExpiredError mapping apply); the answer's
   ``data.authorized_redirect_uri`` (the deprecated ``data.authorizedRedirectUri`` is read when
   the former is absent) is a ONE-TIME wss URL, so each reconnect authorizes again;
2. connects to that URL with :func:`mixbot.venues.upstox.http.hosts.ssl_context` (certificate and
   host name always verified);
3. sends the subscriptions (:class:`~mixbot.venues.upstox.ws.protocol.Subscriptions`, binary
   JSON frames) and reads: every binary frame is decoded
   (:class:`~mixbot.venues.upstox.ws.protocol.FeedDecoder`) and handed to ``on_frame``.

Heartbeat: the server pings when idle, the ``websockets`` library answers pongs; the client
also pings every ``ping_interval`` s and drops a connection whose pong is ``ping_timeout`` s
late (a dead TCP path is then detected in ~40 s by default).

Failures: garbage or truncated frames are logged (rate-limited) and counted in
``stats.bad_frames``, never fatal; text frames (server error notes) are logged and counted in
``stats.text_frames``. A lost connection calls ``on_disconnect(code, reason)``; when it
returns True the client reconnects after ``uniform(0, min(backoff_max, backoff_initial *
2**n))`` seconds (exponential backoff, full jitter, bounded; ``n`` = consecutive failures,
reset once a connection delivered data). A refused token (HTTP 401 on authorize or on the
websocket upgrade) is NOT retried: the client stops and calls ``on_fatal`` with
:class:`~mixbot.venues.upstox.http.errors.TokenExpiredError`. Same after ``max_attempts``
consecutive failed connects, with the last error.

All callbacks run on the client's own thread (one asyncio loop in a daemon thread), one at a
time, so the consumer needs no locks for state touched only by callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mixbot.venues.upstox.http import hosts
from mixbot.venues.upstox.http.errors import LOGIN_HINT, TokenExpiredError, UpstoxError
from mixbot.venues.upstox.ws.protocol import DecodeError, FeedDecoder, FeedFrame, Subscriptions

log = logging.getLogger(__name__)

AUTHORIZE_PATH = "/v3/feed/market-data-feed/authorize"


@dataclass
class SocketStats:
    """Counters of one :class:`FeedSocket` (all since start)."""

    connects: int = 0
    disconnects: int = 0
    frames: int = 0
    ticks: int = 0
    bad_frames: int = 0
    text_frames: int = 0
    last_error: str = ""
    bad_samples: list[str] = field(default_factory=list)


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(maximum, initial * 2**attempt)] s."""
    return rng.uniform(0.0, min(maximum, initial * (2.0 ** min(attempt, 30))))


def authorized_uri(body: Any) -> str:
    """The wss URL from an authorize answer (``data.authorized_redirect_uri``).

    Raises:
        UpstoxError: the answer has no such field.
    """
    data = body.get("data") if isinstance(body, dict) else None
    uri = None
    if isinstance(data, dict):
        uri = data.get("authorized_redirect_uri") or data.get("authorizedRedirectUri")
    if not isinstance(uri, str) or not uri.startswith(("wss://", "ws://")):
        raise UpstoxError(
            f"feed authorize: no authorized_redirect_uri in the answer ({body!r:.200})"
        )
    return uri


def _default_client() -> Any:
    from mixbot.venues.upstox.http.client import UpstoxClient

    return UpstoxClient()


class FeedSocket:
    """A reconnecting market-data websocket in a background thread.

    Args:
        instrument_keys: keys to subscribe (e.g. ``["NSE_FO|46923"]``).
        mode: ``ltpc``, ``full``, ``option_greeks`` or ``full_d30``.
        on_frame: called with each decoded :class:`~mixbot.venues.upstox.ws.protocol.FeedFrame`.
        on_connect: called with the connection number (1, 2, ...) once subscribed.
        on_disconnect: called with ``(close code or None, reason)`` when a connection ends;
            return True to reconnect, False to stop. Default: always reconnect.
        on_fatal: called with the exception that stopped the client (token refused, too many
            failures). Default: log it. ``error`` keeps it.
        on_timer: called every ``timer_interval`` s (wall clock) while running.
        on_bad_frame: called after an undecodable frame was skipped (a message was lost).
        client_factory: makes the REST client for authorize (default ``UpstoxClient()``).
        backoff_initial, backoff_max: reconnect backoff bounds, seconds.
        max_attempts: consecutive failed connects before giving up (None = never).
        open_timeout, ping_interval, ping_timeout: websocket timeouts, seconds.
        ssl_context: TLS context for wss (default :func:`hosts.ssl_context`).
        token_gate: the session's :class:`~mixbot.venues.upstox.token_gate.TokenGate`: a
            refused token then makes the client WAIT for a new one (``mixbot upstox login``)
            and reconnect with it, instead of stopping (None: stop, ``on_fatal``).

    Raises (from the constructor):
        SubscriptionLimitError: the keys exceed the mode's limit.
    """

    def __init__(
        self,
        instrument_keys: Iterable[str],
        mode: str = "full",
        *,
        on_frame: Callable[[FeedFrame], None],
        on_connect: Callable[[int], None] | None = None,
        on_disconnect: Callable[[int | None, str], bool] | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        on_timer: Callable[[], None] | None = None,
        on_bad_frame: Callable[[], None] | None = None,
        timer_interval: float = 0.25,
        client_factory: Callable[[], Any] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_attempts: int | None = None,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        ssl_context: Any = None,
        seed: int | None = None,
        token_gate: Any = None,
    ) -> None:
        self.token_gate = token_gate
        self.subs = Subscriptions()
        self.subs.subscribe(list(instrument_keys), mode)
        self.on_frame = on_frame
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.on_fatal = on_fatal
        self.on_timer = on_timer
        self.on_bad_frame = on_bad_frame
        self.timer_interval = timer_interval
        self.client_factory = client_factory or _default_client
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_attempts = max_attempts
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._ssl = ssl_context
        self._rng = random.Random(seed)
        self.decoder = FeedDecoder()
        self.stats = SocketStats()
        self.error: BaseException | None = None
        self.connected = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ws: Any = None
        self._client: Any = None
        self._last_bad_log = 0.0
        self.done = threading.Event()

    # ------------------------------------------------------------------ thread control
    def start(self) -> None:
        """Start the background thread (returns at once)."""
        if self._thread is not None:
            raise RuntimeError("FeedSocket already started")
        self._thread = threading.Thread(target=self._run, name="mixbot-upstox-ws", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the socket (normal close 1000) and end the thread; safe from any thread."""
        loop, ev = self._loop, self._stop
        if loop is not None and ev is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:
                pass
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    def send(self, frame: bytes) -> None:
        """Send a request frame (binary) from any thread; dropped when not connected."""
        loop, ws = self._loop, self._ws
        if loop is None or ws is None:
            return
        asyncio.run_coroutine_threadsafe(ws.send(frame), loop)

    def subscribe(self, keys: Iterable[str], mode: str = "full") -> None:
        """Add keys (limit-checked now, sent now if connected, and after every reconnect)."""
        self.send(self.subs.subscribe(keys, mode))

    def unsubscribe(self, keys: Iterable[str]) -> None:
        """Drop keys."""
        self.send(self.subs.unsubscribe(keys))

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # pragma: no cover - last resort
            log.exception("upstox feed socket crashed")
            self._fatal(exc)
        finally:
            if self._client is not None:
                try:
                    self._client.close()
                except Exception:
                    pass
            self.done.set()

    def _fatal(self, exc: BaseException) -> None:
        self.error = exc
        if self.on_fatal is not None:
            try:
                self.on_fatal(exc)
            except Exception:
                log.exception("on_fatal callback failed")
        else:
            log.error("upstox feed stopped: %s", exc)

    # ------------------------------------------------------------------ asyncio side
    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        timer = asyncio.create_task(self._timer()) if self.on_timer else None
        try:
            await self._connect_loop()
        finally:
            if timer is not None:
                timer.cancel()

    async def _timer(self) -> None:
        assert self._stop is not None
        while not self._stop.is_set():
            await asyncio.sleep(self.timer_interval)
            try:
                self.on_timer()  # type: ignore[misc]
            except Exception:
                log.exception("feed timer callback failed")

    async def _sleep_or_stop(self, seconds: float) -> bool:
        """Sleep; True when stop was requested meanwhile."""
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
            return True
        except TimeoutError:
            return False

    async def _token_refused(self, exc: TokenExpiredError) -> bool:
        """Upstox refused the token: without a gate stop (``on_fatal``, False); with one,
        wait for a new token and return True to reconnect (False: stopped meanwhile)."""
        gate = self.token_gate
        if gate is None:
            self._fatal(exc)
            return False
        gate.refused(exc)
        self.connected = False
        if self.on_disconnect is not None:
            self.on_disconnect(None, "token refused: waiting for `mixbot upstox login`")
        assert self._stop is not None
        stop = self._stop
        return bool(await gate.wait_renewed(stop.is_set))

    async def _authorize(self) -> str:
        def call() -> str:
            if self._client is None:
                self._client = self.client_factory()
            return authorized_uri(self._client.get(AUTHORIZE_PATH))

        return await asyncio.to_thread(call)

    async def _connect_loop(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        assert self._stop is not None
        failures = 0
        while not self._stop.is_set():
            got_data = False
            code: int | None = None
            reason = ""
            try:
                uri = await self._authorize()
                ssl_ctx = None
                if uri.startswith("wss://"):
                    ssl_ctx = self._ssl or hosts.ssl_context()
                async with connect(
                    uri,
                    ssl=ssl_ctx,
                    open_timeout=self.open_timeout,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_timeout,
                    close_timeout=2.0,
                    max_size=4 * 1024 * 1024,
                    max_queue=1024,
                    compression=None,
                    proxy=None,
                ) as ws:
                    self._ws = ws
                    self.connected = True
                    self.stats.connects += 1
                    self.decoder.reset()
                    for req in self.subs.resubscribe_requests():
                        await ws.send(req)
                    if self.on_connect is not None:
                        self.on_connect(self.stats.connects)
                    got_data = await self._read(ws)
                    code, reason = ws.close_code, ws.close_reason or ""
            except TokenExpiredError as exc:
                if await self._token_refused(exc):
                    continue
                return
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    refused = TokenExpiredError(
                        f"the market-data websocket refused the token (HTTP {status}): "
                        f"it is invalid or has expired. {LOGIN_HINT}",
                        status=status,
                    )
                    if await self._token_refused(refused):
                        continue
                    return
                reason = f"websocket upgrade refused: HTTP {status}"
            except UpstoxError as exc:
                st = exc.status
                if st is not None and 400 <= st < 500 and st != 429:
                    self._fatal(exc)
                    return
                reason = str(exc)
            except (OSError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # websockets protocol errors and the like
                from websockets.exceptions import ConnectionClosed

                if isinstance(exc, ConnectionClosed):
                    code = exc.rcvd.code if exc.rcvd else None
                    reason = f"connection closed: {exc}"
                else:
                    log.warning("feed connection error", exc_info=True)
                    reason = f"{type(exc).__name__}: {exc}"
            finally:
                was_connected = self.connected
                self.connected = False
                self._ws = None
            if self._stop.is_set():
                return
            self.stats.last_error = reason
            if was_connected:
                self.stats.disconnects += 1
            again = True
            if self.on_disconnect is not None:
                again = bool(self.on_disconnect(code, reason))
            if not again:
                return
            failures = 0 if got_data else failures + 1
            if self.max_attempts is not None and failures >= self.max_attempts:
                self._fatal(
                    UpstoxError(
                        f"market-data feed: {failures} connection attempts failed; last: {reason}"
                    )
                )
                return
            delay = backoff_delay(failures, self.backoff_initial, self.backoff_max, self._rng)
            log.warning(
                "market-data feed disconnected (%s%s); reconnecting in %.2fs",
                f"code {code}, " if code is not None else "",
                reason or "no reason",
                delay,
            )
            if await self._sleep_or_stop(delay):
                return

    async def _read(self, ws: Any) -> bool:
        """Read until the connection ends or stop is requested; True when data arrived.

        Raises:
            websockets.exceptions.ConnectionClosedError: the connection broke (not a
                normal close).
        """
        assert self._stop is not None
        stop = self._stop

        async def close_on_stop() -> None:
            await stop.wait()
            await ws.close(1000, "client stop")

        watcher = asyncio.create_task(close_on_stop())
        got = False
        decode = self.decoder.decode
        stats = self.stats
        on_frame = self.on_frame
        try:
            async for msg in ws:
                if isinstance(msg, str):
                    stats.text_frames += 1
                    log.warning("market-data feed sent text: %.200s", msg)
                    continue
                try:
                    frame = decode(msg)
                except (DecodeError, ValueError, TypeError) as exc:
                    self._bad_frame(msg, exc)
                    continue
                got = True
                stats.frames += 1
                stats.ticks += len(frame.ticks)
                on_frame(frame)
        finally:
            watcher.cancel()
        return got

    def _bad_frame(self, data: bytes, exc: BaseException) -> None:
        self.stats.bad_frames += 1
        if self.on_bad_frame is not None:
            self.on_bad_frame()
        if len(self.stats.bad_samples) < 5:
            self.stats.bad_samples.append(data[:32].hex())
        now = time.monotonic()
        if now - self._last_bad_log > 5.0:
            self._last_bad_log = now
            log.warning(
                "skipped an undecodable market-data frame (%d bytes, %s: %s); %d so far",
                len(data),
                type(exc).__name__,
                exc,
                self.stats.bad_frames,
            )
