"""Fault injection for the Upstox simulator.

Set from Python (``sim.faults.stall(3)``), from CLI flags, or with the control API
``POST /_sim/faults`` (JSON, no auth, answered only to loopback clients), e.g.
``{"drop_every": 5}``, ``{"stall": 3}``, ``{"outage": 10}``, ``{"rate_limit": 2}``,
``{"server_errors": 2, "error_status": 503}``, ``{"delay_ms": 250}``, ``{"garbage": 1}``,
``{"truncated": 1}``, ``{"drop_now": true}``, ``{"clear": true}``. ``GET /_sim/faults``
shows the state. Durations are in (real, wall-clock) seconds.

Faults:

* ``drop_every(S)``: each websocket connection is cut (TCP abort, no close frame; the client
  sees 1006) S seconds after it was opened; ``drop_now()`` cuts every open connection;
* ``garbage_frame()``: every open connection gets one binary frame of random bytes (not
  protobuf); ``truncated_frame()``: its next protobuf message is cut in half;
* ``stall(S)``: no frame is sent for S seconds, the sockets stay open; messages produced
  meanwhile are lost when ``speed > 0`` (with ``speed == 0`` the replay waits instead);
* ``outage(S)``: for S seconds every REST call and websocket handshake gets HTTP 503
  (Upstox error envelope) and the open sockets are cut;
* ``rate_limit(K)``: the next K REST calls get 429 ``UDAPI10005`` "Too Many Request Sent";
* ``server_errors(K, status=500)``: the next K REST calls get a 5xx error envelope;
* ``delay(ms)``: every REST answer is delayed by ms milliseconds.

Counts and durations apply to the REST API (``/v2``, ``/v3``), not to the instrument files
(``/assets``) nor to ``/_sim``. The object is thread-safe (set from any thread).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from mixbot.venues.upstox.sim.errors import SERVER_ERROR, TOO_MANY, ApiError


class Faults:
    """Current fault settings; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: called (from any thread) after a fault that must reach the open sockets at once
        self.on_change: Callable[[], None] | None = None
        self.clear()

    def _poke(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self.drop_every_s: float | None = None
            self._stall_until = 0.0
            self._outage_until = 0.0
            self._rate_left = 0
            self._errors_left = 0
            self._error_status = 500
            self.delay_ms = 0
            self.drop_epoch = getattr(self, "drop_epoch", 0)
            self.garbage_epoch = getattr(self, "garbage_epoch", 0)
            self.truncated_epoch = getattr(self, "truncated_epoch", 0)

    # ----------------------------------------------------------------- setters

    def drop_every(self, seconds: float | None) -> None:
        """Cut each websocket ``seconds`` after it opened (None/0 = never)."""
        self.drop_every_s = float(seconds) if seconds else None

    def drop_now(self) -> None:
        """Cut every open websocket now."""
        with self._lock:
            self.drop_epoch += 1
        self._poke()

    def garbage_frame(self) -> None:
        """Send one frame of random bytes on every open websocket."""
        with self._lock:
            self.garbage_epoch += 1
        self._poke()

    def truncated_frame(self) -> None:
        """Cut the next protobuf message of every open websocket in half."""
        with self._lock:
            self.truncated_epoch += 1
        self._poke()

    def stall(self, seconds: float) -> None:
        """Send nothing on the websockets for ``seconds`` (sockets stay open)."""
        self._stall_until = time.monotonic() + float(seconds)
        self._poke()

    def outage(self, seconds: float) -> None:
        """Refuse REST and websocket handshakes (503) for ``seconds``; cut open sockets."""
        self._outage_until = time.monotonic() + float(seconds)
        self.drop_now()

    def rate_limit(self, calls: int) -> None:
        """Answer the next ``calls`` REST calls with 429 UDAPI10005."""
        with self._lock:
            self._rate_left = int(calls)

    def server_errors(self, calls: int, status: int = 500) -> None:
        """Answer the next ``calls`` REST calls with HTTP ``status`` (5xx)."""
        if not 500 <= int(status) <= 599:
            raise ValueError(f"server error status must be 5xx, not {status}")
        with self._lock:
            self._errors_left = int(calls)
            self._error_status = int(status)

    def delay(self, ms: int) -> None:
        """Delay every REST answer by ``ms`` milliseconds."""
        self.delay_ms = max(0, int(ms))

    # ----------------------------------------------------------------- consumers

    def stall_left(self) -> float:
        """Seconds of stall left (0 = not stalled)."""
        return max(0.0, self._stall_until - time.monotonic())

    def outage_left(self) -> float:
        """Seconds of outage left (0 = no outage)."""
        return max(0.0, self._outage_until - time.monotonic())

    def take_rest_fault(self) -> ApiError | None:
        """The error the next REST call must get, consuming one count, or None."""
        with self._lock:
            if self._rate_left > 0:
                self._rate_left -= 1
                return ApiError(429, *TOO_MANY)
            if self._errors_left > 0:
                self._errors_left -= 1
                return ApiError(self._error_status, *SERVER_ERROR)
        return None

    # ----------------------------------------------------------------- control API

    def apply(self, spec: dict[str, Any]) -> None:
        """Apply a control-API request (keys in the module docstring).

        Raises:
            ValueError: unknown key or a value of the wrong type.
        """
        known = {
            "clear", "drop_every", "drop_now", "garbage", "truncated", "stall", "outage",
            "rate_limit", "server_errors", "error_status", "delay_ms",
        }  # fmt: skip
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {sorted(known)}")
        try:
            if spec.get("clear"):
                self.clear()
            if "drop_every" in spec:
                self.drop_every(spec["drop_every"])
            if spec.get("drop_now"):
                self.drop_now()
            for _ in range(int(spec.get("garbage", 0))):
                self.garbage_frame()
            for _ in range(int(spec.get("truncated", 0))):
                self.truncated_frame()
            if spec.get("stall"):
                self.stall(float(spec["stall"]))
            if spec.get("outage"):
                self.outage(float(spec["outage"]))
            if "rate_limit" in spec:
                self.rate_limit(int(spec["rate_limit"]))
            if "server_errors" in spec:
                self.server_errors(int(spec["server_errors"]), int(spec.get("error_status", 500)))
            if "delay_ms" in spec:
                self.delay(int(spec["delay_ms"]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad fault value: {exc}") from None

    def snapshot(self) -> dict[str, Any]:
        """The current settings (for ``GET /_sim/faults``)."""
        return {
            "drop_every": self.drop_every_s,
            "stall_left_s": round(self.stall_left(), 3),
            "outage_left_s": round(self.outage_left(), 3),
            "rate_limit_left": self._rate_left,
            "server_errors_left": self._errors_left,
            "error_status": self._error_status,
            "delay_ms": self.delay_ms,
        }
