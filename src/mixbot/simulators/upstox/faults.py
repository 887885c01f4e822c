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

Order faults (the exchange, :mod:`.orders`; control-API keys in brackets):

* ``reject_orders(K, reason)`` [``reject_orders``, ``reject_reason``]: the next K placed
  orders are accepted (HTTP 200, an order id) then REJECTED by the "RMS": status
  ``rejected``, ``status_message`` = reason (like a real margin/RMS rejection);
* ``order_errors(K, status=500)`` [``order_errors``, ``error_status``]: the next K order
  calls (place/modify/cancel) get a 5xx envelope and change nothing;
* ``drop_order_responses(K, mode="close")`` [``drop_responses``, ``drop_mode``]: the next K
  places CREATE the order, then the HTTP answer is never sent: ``"close"`` aborts the TCP
  connection, ``"hang"`` holds it for ``hang_s`` seconds (default 30) and then aborts;
* ``partial_fill(fraction)`` [``partial_fill``; 0 or null = off]: each tick fills at most
  ``fraction`` of an order's quantity (rounded down to whole lots, at least one lot);
* ``fill_limit(K)`` [``fill_limit``; null = off]: only K more fills happen, then no working
  order fills (a market without counterparties) until the limit is set again or cleared:
  tests stop the matching at an exact number of fills, whatever the replay's pace.

Counts and durations apply to the REST API (``/v2``, ``/v3``), not to the instrument files
(``/assets``) nor to ``/_sim``. The object is thread-safe (set from any thread).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from mixbot.simulators.upstox.errors import SERVER_ERROR, TOO_MANY, ApiError


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
            self._reject_left = 0
            self.reject_reason = "Order rejected by the simulator (fault injection)"
            self._order_errors_left = 0
            self._drop_left = 0
            self.drop_mode = "close"
            self.hang_s = 30.0
            self.partial_fraction: float | None = None
            self.fills_left: int | None = None
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
        """Send nothing on the websockets for ``seconds`` (sockets stay open); ``stall(0)``
        ends a stall early."""
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

    def reject_orders(self, count: int, reason: str | None = None) -> None:
        """Accept then reject (status ``rejected``) the next ``count`` placed orders."""
        with self._lock:
            self._reject_left = int(count)
            if reason:
                self.reject_reason = str(reason)

    def order_errors(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` order calls (place/modify/cancel) with a 5xx."""
        if not 500 <= int(status) <= 599:
            raise ValueError(f"server error status must be 5xx, not {status}")
        with self._lock:
            self._order_errors_left = int(count)
            self._error_status = int(status)

    def drop_order_responses(self, count: int, mode: str = "close", hang_s: float = 30.0) -> None:
        """Create the next ``count`` placed orders but never answer (``close`` | ``hang``)."""
        if mode not in ("close", "hang"):
            raise ValueError(f"drop mode must be 'close' or 'hang', not {mode!r}")
        with self._lock:
            self._drop_left = int(count)
            self.drop_mode = mode
            self.hang_s = float(hang_s)

    def partial_fill(self, fraction: float | None) -> None:
        """Fill at most ``fraction`` (0 < f < 1) of each order per tick; None/0 = off."""
        if fraction and not 0 < float(fraction) <= 1:
            raise ValueError(f"partial fill fraction must be in (0, 1], not {fraction}")
        self.partial_fraction = float(fraction) if fraction else None

    def fill_limit(self, count: int | None) -> None:
        """Let only ``count`` more fills happen (None = no limit)."""
        if count is not None and int(count) < 0:
            raise ValueError(f"fill limit must be >= 0, not {count}")
        with self._lock:
            self.fills_left = None if count is None else int(count)

    # ----------------------------------------------------------------- consumers

    def take_fill(self) -> bool:
        """May one more fill happen now (consumes one of ``fill_limit``)?"""
        with self._lock:
            if self.fills_left is None:
                return True
            if self.fills_left <= 0:
                return False
            self.fills_left -= 1
            return True

    def _take(self, attr: str) -> bool:
        with self._lock:
            left = int(getattr(self, attr))
            if left > 0:
                setattr(self, attr, left - 1)
                return True
        return False

    def take_order_error(self) -> ApiError | None:
        """The 5xx the next order call must get (consuming one count), or None."""
        if self._take("_order_errors_left"):
            return ApiError(self._error_status, *SERVER_ERROR)
        return None

    def take_reject(self) -> str | None:
        """The rejection reason for the order being placed (consuming one count), or None."""
        return self.reject_reason if self._take("_reject_left") else None

    def take_drop(self) -> str | None:
        """``"close"``/``"hang"`` when this place's answer must be dropped, else None."""
        return self.drop_mode if self._take("_drop_left") else None

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
            "rate_limit", "server_errors", "error_status", "delay_ms", "reject_orders",
            "reject_reason", "order_errors", "drop_responses", "drop_mode", "hang_s",
            "partial_fill", "fill_limit",
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
            if "reject_orders" in spec:
                self.reject_orders(int(spec["reject_orders"]), spec.get("reject_reason"))
            if "order_errors" in spec:
                self.order_errors(int(spec["order_errors"]), int(spec.get("error_status", 500)))
            if "drop_responses" in spec:
                mode = str(spec.get("drop_mode", "close"))
                self.drop_order_responses(
                    int(spec["drop_responses"]), mode, float(spec.get("hang_s", 30.0))
                )
            if "partial_fill" in spec:
                self.partial_fill(spec["partial_fill"])
            if "fill_limit" in spec:
                self.fill_limit(spec["fill_limit"])
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
            "reject_orders_left": self._reject_left,
            "reject_reason": self.reject_reason,
            "order_errors_left": self._order_errors_left,
            "drop_responses_left": self._drop_left,
            "drop_mode": self.drop_mode,
            "partial_fill": self.partial_fraction,
            "fill_limit": self.fills_left,
        }
