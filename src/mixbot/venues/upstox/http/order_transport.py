"""Plumbing of :class:`~mixbot.venues.upstox.execution.orders.OrderApi`: construction, the audit
steps, backoff, the sandbox token, and single / retried requests to the order host, plus
the helpers that read Upstox's answer envelope.

Split out of :mod:`mixbot.venues.upstox.execution.orders` (``OrderApi`` derives from
:class:`OrderTransport`).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from mixbot.venues.base import RateLimiter
from mixbot.venues.upstox.execution.order_results import AuditStep
from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.http.errors import (
    RateLimitedError,
    TokenMissingError,
    UpstoxError,
    UpstoxUnavailableError,
)
from mixbot.venues.upstox.http.order_endpoints import (
    ALGO_HEADER,
    SANDBOX_TOKEN_ENV,
    order_base,
    sandbox_base,
)
from mixbot.venues.upstox.http.ratelimit import order_limiter

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- answer envelope


def _data(resp: Any) -> Any:
    if isinstance(resp, Mapping) and "data" in resp:
        return resp["data"]
    return resp


def _latency(resp: Any) -> int | None:
    meta = resp.get("metadata") if isinstance(resp, Mapping) else None
    value = meta.get("latency") if isinstance(meta, Mapping) else None
    return int(value) if isinstance(value, int | float) else None


def _order_ids(resp: Any) -> list[str]:
    data = _data(resp)
    if not isinstance(data, Mapping):
        return []
    ids = data.get("order_ids")
    if isinstance(ids, list):
        return [str(i) for i in ids if i]
    one = data.get("order_id")
    return [str(one)] if one else []


def _err(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, UpstoxError):
        out["status"] = exc.status
        out["error_code"] = exc.error_code
    return out


class OrderTransport:
    """Construction and request plumbing shared by :class:`~mixbot.venues.upstox.execution.orders.OrderApi`
    (see its docstring for the arguments)."""

    def __init__(
        self,
        client: UpstoxClient,
        *,
        algo_name: str | None = None,
        registered_algo: bool = False,
        sandbox: bool = False,
        sandbox_token: str | None = None,
        limiter: RateLimiter | None = None,
        recheck_attempts: int = 3,
        recheck_delay: float = 1.0,
        max_resends: int = 1,
        max_rate_limited: int = 5,
        max_unavailable: int = 3,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        on_step: Callable[[AuditStep], None] | None = None,
    ) -> None:
        if registered_algo and not algo_name:
            raise ValueError("registered_algo needs algo_name (sent as the X-Algo-Name header)")
        self.client = client
        self.algo_name = algo_name or None
        self.registered_algo = bool(registered_algo)
        self.sandbox = bool(sandbox)
        self._sandbox_token = sandbox_token
        self.limiter: RateLimiter = limiter or order_limiter(self.registered_algo, sleep=sleep)
        self.recheck_attempts = max(1, int(recheck_attempts))
        self.recheck_delay = float(recheck_delay)
        self.max_resends = max(0, int(max_resends))
        self.max_rate_limited = max(0, int(max_rate_limited))
        self.max_unavailable = max(0, int(max_unavailable))
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._sleep = sleep
        self.on_step = on_step

    def __repr__(self) -> str:  # never show a token
        return f"OrderApi(order_base={self.order_base!r}, sandbox={self.sandbox})"

    @property
    def order_base(self) -> str:
        """Base URL of place/modify/cancel."""
        return sandbox_base() if self.sandbox else order_base(self.client.base_url)

    # ------------------------------------------------------------------ plumbing

    def _step(self, steps: list[AuditStep], action: str, **detail: Any) -> AuditStep:
        step = AuditStep(action, detail)
        steps.append(step)
        level = logging.WARNING if action in _WARN_STEPS else logging.INFO
        log.log(level, "order %s %s", action, detail)
        if self.on_step is not None:
            try:
                self.on_step(step)
            except Exception:  # an audit sink must never break order handling
                log.exception("on_step callback failed for %s", action)
        return step

    def _backoff(self, n: int, retry_after: float | None = None) -> float:
        base = min(self.backoff_max, self.backoff_initial * 2 ** max(0, n - 1))
        delay = base / 2 + random.uniform(0, base / 2)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        return delay

    def _sandbox_auth(self) -> str:
        token = self._sandbox_token or os.environ.get(SANDBOX_TOKEN_ENV, "").strip()
        if not token:
            raise TokenMissingError(
                f"sandbox orders need the Upstox sandbox token: set {SANDBOX_TOKEN_ENV} "
                "(broker.sandbox_token) from the sandbox app at account.upstox.com/developer/apps"
            )
        return token

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """ONE request to the order host (``order_base + path``), never retried (the client's
        ``request(..., max_attempts=1)``), counted by the order limiter and the client's own
        limiter; sends ``X-Algo-Name`` when an algo name is set and, in sandbox mode, the
        sandbox token instead of the normal one. Returns the decoded JSON answer.

        Raises:
            TokenMissingError: sandbox mode without a sandbox token, or no normal token
                (nothing is sent).
            TokenExpiredError: 401 / UDAPI100050.
            RateLimitedError: 429 (the order was not accepted).
            UpstoxUnavailableError: 5xx or a network failure; ``request_sent`` is False only
                when the request surely never left (a failure to connect).
            UpstoxError: any other 4xx, or an answer that is not JSON.
        """
        extra: dict[str, str] = {}
        if self.algo_name:
            extra[ALGO_HEADER] = self.algo_name
        if self.sandbox:
            extra["Authorization"] = f"Bearer {self._sandbox_auth()}"
            auth = False
        else:
            auth = True
        self.limiter.acquire()
        return self.client.request(
            method,
            f"{self.order_base}{path}",
            json=json,
            params=dict(params) if params is not None else None,
            headers=extra,
            auth=auth,
            max_attempts=1,
        )

    def _with_retries(
        self,
        what: str,
        method: str,
        path: str,
        steps: list[AuditStep],
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """An order call whose repetition is harmless (modify, cancel): 429 and temporary
        failures are retried with backoff; 4xx are not."""
        limited = unavailable = 0
        while True:
            try:
                return self._send_once(method, path, json=json, params=params)
            except RateLimitedError as exc:
                limited += 1
                self._step(steps, "rate_limited", call=what, n=limited, **_err(exc))
                if limited > self.max_rate_limited:
                    raise
                self._sleep(self._backoff(limited, exc.retry_after))
            except UpstoxUnavailableError as exc:
                unavailable += 1
                self._step(steps, "unavailable", call=what, n=unavailable, **_err(exc))
                if unavailable > self.max_unavailable:
                    raise
                self._sleep(self._backoff(unavailable, exc.retry_after))


_WARN_STEPS = frozenset(
    {
        "rate_limited",
        "unavailable",
        "not_sent",
        "ambiguous",
        "lookup_failed",
        "resend",
        "give_up",
        "refused",
        "modify_failed",
        "cancel_failed",
    }
)
