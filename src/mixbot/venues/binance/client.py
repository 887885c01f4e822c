"""ccxt's Binance client (sync and ``ccxt.pro``) pointed at the configured hosts, and the
request-weight guard around its REST calls.

Hosts: ``urls['api']`` entries ``public``, ``private`` (``<api_url>/api/v3``), ``v1``
(``<api_url>/api/v1``), ``ws.spot`` (``<ws_url>/ws``) and ``ws.ws-api.spot``; options
``fetchMarkets.types = ["spot"]``, ``fetchCurrencies`` and ``fetchMargins`` off so that
``load_markets`` calls only ``/api/v3/exchangeInfo`` (otherwise ccxt calls ``sapi`` and the
futures hosts).

Rate limits (Binance, developers.binance.com "Spot API > Limits", figures of 2025):
REQUEST_WEIGHT 6,000 per minute per IP, ORDERS 50 per 10 s and 160,000 per 24 h per
account; every answer reports the minute's used weight in ``X-MBX-USED-WEIGHT-1M``; a 429
means back off for ``Retry-After`` seconds, and hammering on gives a 418 IP ban (also with
``Retry-After``). :class:`WeightGuard` keeps the bot under its own budget
(``binance.weight_budget``, default 4,800) from the header it reads back, and sleeps
``Retry-After`` on 429/418 before one retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from mixbot.venues.binance.config import BinanceConfig

log = logging.getLogger(__name__)

#: Binance's published limits (see the module docstring).
WEIGHT_PER_MINUTE = 6000
ORDERS_PER_10S = 50


def _options() -> dict[str, Any]:
    return {
        "fetchMarkets": {"types": ["spot"]},
        "fetchCurrencies": False,
        "fetchMargins": False,
        "defaultType": "spot",
        "warnOnFetchOpenOrdersWithoutSymbol": False,
    }


def _quiet_ccxt() -> None:
    """ccxt logs every request's headers (the API key) and URL at DEBUG: never below INFO."""
    lg = logging.getLogger("ccxt")
    if lg.getEffectiveLevel() < logging.INFO:
        lg.setLevel(logging.INFO)


def _point(ex: Any, bc: BinanceConfig) -> Any:
    _quiet_ccxt()
    api = ex.urls["api"]
    api["public"] = f"{bc.api_url}/api/v3"
    api["private"] = f"{bc.api_url}/api/v3"
    api["v1"] = f"{bc.api_url}/api/v1"
    if isinstance(api.get("ws"), dict):
        api["ws"]["spot"] = f"{bc.ws_url}/ws"
        api["ws"]["ws-api"]["spot"] = bc.ws_api_url
    ex.options["recvWindow"] = bc.recv_window_ms
    inner = ex.on_rest_response

    def on_rest_response(code: Any, reason: Any, *args: Any) -> Any:
        ex.last_http_status = code  # read back by WeightGuard (ccxt keeps no status)
        return inner(code, reason, *args)

    ex.on_rest_response = on_rest_response
    return ex


def make_sync(bc: BinanceConfig, key: str | None = None, secret: str | None = None) -> Any:
    """A ``ccxt.binance`` (sync) on the configured hosts (credentials optional)."""
    import ccxt

    creds = {"apiKey": key, "secret": secret} if key and secret else {}
    return _point(ccxt.binance({**creds, "options": _options(), "enableRateLimit": True}), bc)


def make_pro(bc: BinanceConfig, key: str | None = None, secret: str | None = None) -> Any:
    """A ``ccxt.pro.binance`` (asyncio) on the configured hosts; call in its event loop."""
    import ccxt.pro

    creds = {"apiKey": key, "secret": secret} if key and secret else {}
    return _point(ccxt.pro.binance({**creds, "options": _options(), "enableRateLimit": True}), bc)


class WeightGuard:
    """Keeps REST calls under a per-minute weight budget and honours ``Retry-After``.

    Args:
        budget: weight per minute the bot allows itself (<= 6,000).
        sleep, clock: injectable for tests (seconds).
    """

    def __init__(
        self,
        budget: int = 4800,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.budget = min(int(budget), WEIGHT_PER_MINUTE)
        self.used = 0  # the minute's used weight Binance reported last
        self.used_minute = -1
        self.waited = 0.0
        self.backoffs: list[tuple[int, float]] = []  # (HTTP status, Retry-After s)
        self._orders: deque[float] = deque()
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()

    def before(self, weight: int, order: bool = False) -> None:
        """Wait until ``weight`` more fits in the minute (and, for an order, the 10 s
        order window: at most 50, Binance's figure)."""
        with self._lock:
            now = self._clock()
            minute = int(now // 60)
            if minute == self.used_minute and self.used + weight > self.budget:
                wait = 60 - now % 60 + 0.05
                log.warning("Binance weight %d/%d used this minute: waiting %.1f s",
                            self.used, self.budget, wait)  # fmt: skip
                self._pause(wait)
            if order:
                while self._orders and self._orders[0] <= self._clock() - 10:
                    self._orders.popleft()
                if len(self._orders) >= ORDERS_PER_10S:
                    self._pause(self._orders[0] + 10 - self._clock() + 0.01)
                self._orders.append(self._clock())

    def _pause(self, s: float) -> None:
        if s > 0:
            self.waited += s
            self._sleep(s)

    def after(self, headers: dict[str, Any] | None) -> None:
        """Read ``X-MBX-USED-WEIGHT-1M`` back from an answer's headers."""
        if not headers:
            return
        h = {str(k).lower(): v for k, v in headers.items()}
        used = h.get("x-mbx-used-weight-1m")
        if used is not None:
            with self._lock:
                self.used = int(used)
                self.used_minute = int(self._clock() // 60)

    def call(self, ex: Any, fn: Callable[[], Any], weight: int = 1, order: bool = False) -> Any:
        """Run ``fn`` (a sync ccxt call on ``ex``) under the budget; on 429/418 sleep
        ``Retry-After`` seconds (default 60) and try once more.

        Raises:
            ccxt.BaseError: what ccxt raises (after the one retry for 429/418).
        """
        import ccxt

        for attempt in (0, 1):
            self.before(weight, order)
            try:
                out = fn()
                self.after(getattr(ex, "last_response_headers", None))
                return out
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded):
                headers = getattr(ex, "last_response_headers", None) or {}
                self.after(headers)
                if attempt:
                    raise
                h = {str(k).lower(): v for k, v in headers.items()}
                retry = float(h.get("retry-after") or 60)
                status = int(getattr(ex, "last_http_status", 0) or 0) or 429
                self.backoffs.append((status, retry))
                log.warning("Binance answered %s: waiting Retry-After %.0f s", status, retry)
                self._pause(retry)
        raise AssertionError("unreachable")
