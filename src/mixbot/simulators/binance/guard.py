"""Request checks of the Binance simulator: HMAC-SHA256 signatures, request weights and
order counts, and injected HTTP faults (429 / 418 with ``Retry-After``).

Figures as Binance documents them for spot (developers.binance.com, "Spot API > Limits"
and "Request security"): REQUEST_WEIGHT 6,000 per minute per IP, ORDERS 50 per 10 s and
160,000 per day per account; the used weight comes back in ``X-MBX-USED-WEIGHT-1M``, the
order counts in ``X-MBX-ORDER-COUNT-10S`` / ``-1D``; a 429 carries ``Retry-After``
(seconds) and repeated violations get 418 (an IP ban). SIGNED endpoints carry
``timestamp`` (ms) and ``signature`` = hex HMAC-SHA256 of the total parameters (query string
followed by the body) with the API secret; the key in header ``X-MBX-APIKEY``; a
timestamp outside Binance's rule (``timestamp < serverTime + 1000`` and ``serverTime -
timestamp <= recvWindow``; recvWindow default 5,000, at most 60,000 ms) is refused (-1021). The per-endpoint weights below are Binance's published ones for the endpoints
served (klines 2, exchangeInfo 20, account 20, order 1 / GET 4, openOrders 6 with a
symbol, myTrades 20, time 1).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from mixbot.simulators.binance.exchange import ApiError

WEIGHTS = {
    ("GET", "klines"): 2, ("GET", "exchangeInfo"): 20, ("GET", "account"): 20,
    ("POST", "order"): 1, ("GET", "order"): 4, ("DELETE", "order"): 1,
    ("GET", "openOrders"): 6, ("GET", "myTrades"): 20, ("GET", "time"): 1, ("GET", "ping"): 1,
}  # fmt: skip


@dataclass
class Fault:
    """``count`` answers of HTTP ``status`` (429 or 418, or 5xx) with ``Retry-After``
    seconds, on paths containing ``path`` ("" = any)."""

    status: int
    count: int
    retry_after: int = 1
    path: str = ""


@dataclass
class Guard:
    """Signatures, weights and faults, shared by every request (thread-safe).

    Attributes:
        api_key, secret: the one account's credentials.
        weight_limit: REQUEST_WEIGHT per minute (Binance: 6,000).
        order_limit_10s: ORDERS per 10 s (Binance: 50).
        clock: wall-clock seconds (signature timestamps and windows are wall time, as the
            bot's clock is; the market's simulated clock is elsewhere).
    """

    api_key: str = "sim-key"
    secret: str = "sim-secret"
    weight_limit: int = 6000
    order_limit_10s: int = 50
    faults: list[Fault] = field(default_factory=list)
    clock: object = time.time
    refused_signatures: int = 0
    _weights: deque[tuple[float, int]] = field(default_factory=deque)
    _orders: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def inject(self, status: int, count: int = 1, retry_after: int = 1, path: str = "") -> None:
        """Answer the next ``count`` matching requests with ``status``."""
        with self._lock:
            self.faults.append(Fault(status, count, retry_after, path))

    def fault_for(self, path: str) -> Fault | None:
        """The injected fault that answers this request (and count it), or None."""
        with self._lock:
            for f in self.faults:
                if f.count > 0 and f.path in path:
                    f.count -= 1
                    return f
            return None

    def take_weight(self, method: str, endpoint: str) -> tuple[int, int]:
        """Record the request's weight; returns ``(used weight in the minute, retry_after)``
        with retry_after > 0 when the minute's budget is spent (answer 429, -1003)."""
        w = WEIGHTS.get((method, endpoint), 1)
        now = self.now()
        minute = now - now % 60
        with self._lock:
            while self._weights and self._weights[0][0] < minute:
                self._weights.popleft()
            used = sum(x for _, x in self._weights) + w
            if used > self.weight_limit:
                return used - w, int(minute + 60 - now) + 1
            self._weights.append((now, w))
            return used, 0

    def take_order(self) -> tuple[int, int]:
        """Count a new order; ``(orders in the last 10 s, retry_after)`` (429 -1015 when >0)."""
        now = self.now()
        with self._lock:
            while self._orders and self._orders[0] <= now - 10:
                self._orders.popleft()
            if len(self._orders) >= self.order_limit_10s:
                return len(self._orders), int(self._orders[0] + 10 - now) + 1
            self._orders.append(now)
            return len(self._orders), 0

    def check_signed(self, api_key: str | None, query: str, body: str) -> dict[str, str]:
        """Check a SIGNED request; returns its parameters (signature removed).

        Raises:
            ApiError: -2014/-2015 bad key, -1022 bad signature, -1021 stale timestamp,
                -1102 a mandatory parameter missing.
        """
        if api_key != self.api_key:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        sig = None
        total = ""
        for part in (query, body):
            kept = []
            for kv in part.split("&") if part else []:
                if kv.startswith("signature="):
                    sig = kv[len("signature=") :]
                else:
                    kept.append(kv)
            total += "&".join(kept)
        if not sig:
            raise ApiError(400, -1102, "Mandatory parameter 'signature' was not sent.")
        return self.verify(total, sig)

    def verify(self, payload: str, sig: str) -> dict[str, str]:
        """Check ``sig`` against ``payload`` (the signed text) and its timestamp."""
        want = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig.lower()):
            self.refused_signatures += 1
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(payload, keep_blank_values=True))
        ts = params.get("timestamp")
        if ts is None:
            raise ApiError(400, -1102, "Mandatory parameter 'timestamp' was not sent.")
        window = min(float(params.get("recvWindow", 5000)), 60000.0)
        server = self.now() * 1000
        # Binance's rule: timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow
        if not (float(ts) < server + 1000 and server - float(ts) <= window):
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return params
