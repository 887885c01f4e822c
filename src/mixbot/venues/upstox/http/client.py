"""A small synchronous client of the Upstox REST API (httpx).

* Base URL: :func:`mixbot.venues.upstox.http.hosts.api_base` (``MIXBOT_UPSTOX_API``), TLS always
  verified with :func:`mixbot.venues.upstox.http.hosts.ssl_context`.
* Headers: ``Authorization: Bearer <token>``, ``Accept: application/json``, and
  ``Api-Version: 2.0`` on ``/v2/...`` paths (the v2 endpoints declare it as a required header;
  the v3 ones do not), per https://upstox.com/developer/api-documentation/ and the official SDK.
* Token: the ``token`` argument, else ``$UPSTOX_ACCESS_TOKEN``, else the token file written by
  ``mixbot upstox login`` (:func:`mixbot.venues.upstox.auth.load_token`), looked up at the first
  authenticated request. The token is never logged nor put in a message.
* Retries (tenacity): only :class:`~mixbot.venues.upstox.http.errors.RateLimitedError` (429) and
  :class:`~mixbot.venues.upstox.http.errors.UpstoxUnavailableError` (5xx, connection errors,
  timeouts), exponential backoff with jitter, honouring ``Retry-After``, at most
  ``max_attempts`` tries (the client's, or the ``max_attempts`` of one :meth:`UpstoxClient.request`;
  ``max_attempts=1`` sends exactly one request and never retries). 4xx are never retried. A
  non-idempotent request (POST by default) is retried only when Upstox surely did not act on it
  (429, or a failure to connect).
* Rate limits (https://upstox.com/developer/api-documentation/rate-limiting, "standard APIs",
  per user per API): 50 requests / second, 500 / minute, 2000 / 30 minutes. The client keeps
  under them with :class:`RateLimiter` (one limiter for all paths: conservative).
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from mixbot.venues.upstox.http import hosts
from mixbot.venues.upstox.http.errors import (
    LOGIN_HINT,
    RateLimitedError,
    TokenExpiredError,
    TokenMissingError,
    UpstoxError,
    UpstoxUnavailableError,
    error_for_status,
)

log = logging.getLogger(__name__)

#: Upstox "standard API" limits: (requests, window seconds).
STANDARD_LIMITS: tuple[tuple[int, float], ...] = ((50, 1.0), (500, 60.0), (2000, 1800.0))

#: Longest ``Retry-After`` honoured, seconds (a longer one is capped).
MAX_RETRY_AFTER = 120.0


class RateLimiter:
    """Blocks so that at most ``n`` calls happen in any ``window`` seconds, for every pair.

    A sliding-window log (one deque of call times per window): exact for Upstox's fixed
    limits, where a plain token bucket would let up to twice the limit through one window.
    Thread-safe. ``clock``/``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        limits: tuple[tuple[int, float], ...] = STANDARD_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._calls: list[deque[float]] = [deque() for _ in limits]
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until one more call is allowed, record it; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                delay = 0.0
                for (n, window), calls in zip(self.limits, self._calls):
                    while calls and calls[0] <= now - window:
                        calls.popleft()
                    if len(calls) >= n:
                        delay = max(delay, calls[0] + window - now)
                if delay <= 0:
                    for calls in self._calls:
                        calls.append(now)
                    return waited
            self._sleep(delay)
            waited += delay


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _is_retryable(idempotent: bool) -> Callable[[BaseException], bool]:
    def check(exc: BaseException) -> bool:
        if isinstance(exc, RateLimitedError):
            return True
        if isinstance(exc, UpstoxUnavailableError):
            return idempotent or not exc.request_sent
        return False

    return check


class UpstoxClient:
    """Synchronous Upstox REST client.

    Args:
        token: access token; default ``$UPSTOX_ACCESS_TOKEN``, else the ``mixbot upstox login``
            token file (checked for expiry, warns when < 30 min remain).
        base_url: API base URL; default :func:`hosts.api_base` (``$MIXBOT_UPSTOX_API``).
        timeout: seconds per HTTP request (connect and read).
        max_attempts: tries per request for temporary failures (a value < 1 counts as 1);
            one request can ask for another number (:meth:`request`'s ``max_attempts``).
        backoff_initial, backoff_max: exponential backoff bounds, seconds (full jitter added).
        rate_limiter: shared :class:`RateLimiter`; default: a new one with the standard limits;
            pass ``False`` to disable.
        transport: an httpx transport (tests: :class:`httpx.MockTransport`).
        sleep: the sleep used between retries (tests).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        timeout: float = 10,
        *,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        rate_limiter: RateLimiter | bool | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        gate: Any = None,
    ) -> None:
        self._token = token
        #: the session's :class:`~mixbot.venues.upstox.token_gate.TokenGate` (None: this
        #: client's own token only): its token is sent, a 401 marks it refused
        self.gate = gate
        self.base_url = (base_url or hosts.api_base()).rstrip("/")
        self.timeout = timeout
        self.max_attempts = max(1, int(max_attempts))
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        if rate_limiter is None or rate_limiter is True:
            self.rate_limiter: RateLimiter | None = RateLimiter()
        else:
            self.rate_limiter = rate_limiter or None
        self._sleep = sleep
        self.token_warning: str | None = None
        kwargs: dict[str, Any] = {"timeout": timeout, "follow_redirects": False}
        if transport is not None:
            kwargs["transport"] = transport
        else:
            kwargs["verify"] = hosts.ssl_context()
        self._http = httpx.Client(**kwargs)

    def __repr__(self) -> str:  # never show the token
        return f"UpstoxClient(base_url={self.base_url!r})"

    def __enter__(self) -> UpstoxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    # -- token ---------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The access token in use (resolved on first use).

        Raises:
            TokenMissingError: no argument, no ``UPSTOX_ACCESS_TOKEN`` and no token file.
            TokenExpiredError: the token file holds an expired token.
        """
        gate = self.gate
        if gate is not None and gate.token:
            return str(gate.token)
        if not self._token:
            env = os.environ.get(hosts.TOKEN_ENV, "").strip()
            if env:
                self._token = env
            else:
                from mixbot.venues.upstox import auth

                try:
                    stored = auth.load_token()
                except FileNotFoundError:
                    raise TokenMissingError(
                        f"no Upstox access token: {LOGIN_HINT}; the token file is "
                        f"{auth.token_path()}"
                    ) from None
                self.token_warning = stored.warning
                self._token = stored.access_token
        if gate is not None:
            gate.set_initial(self._token)
        return self._token

    # -- requests ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _headers(self, path: str, auth: bool, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if path.lstrip("/").startswith("v2/"):
            headers["Api-Version"] = "2.0"
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        if extra:
            headers.update(extra)
        return headers

    def _once(
        self, method: str, path: str, headers: dict[str, str], raw: bool, limit: bool, **kw: Any
    ) -> Any:
        if limit and self.rate_limiter is not None:
            self.rate_limiter.acquire()
        short = path.split("?", 1)[0]
        try:
            resp = self._http.request(method, self._url(path), headers=headers, **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise UpstoxUnavailableError(
                f"cannot connect to {self.base_url}: {type(exc).__name__}: {exc}",
                request_sent=False,
                method=method,
                path=short,
            ) from None
        except httpx.TransportError as exc:
            raise UpstoxUnavailableError(
                f"request failed: {type(exc).__name__}: {exc}", method=method, path=short
            ) from None
        log.debug("%s %s -> %s", method, short, resp.status_code)
        if resp.status_code >= 400:
            body: Any
            try:
                body = resp.json()
            except ValueError:
                body = resp.text
            raise error_for_status(
                resp.status_code,
                body,
                method=method,
                path=short,
                retry_after=_retry_after(resp.headers),
            )
        if raw:
            return resp.content
        try:
            return resp.json()
        except ValueError:
            raise UpstoxError(
                f"the answer is not JSON: {resp.text[:200]!r}",
                status=resp.status_code,
                method=method,
                path=short,
            ) from None

    def _wait(self, state: RetryCallState, attempts: int) -> float:
        n = state.attempt_number
        if n >= attempts:  # tenacity asks for a wait before its stop check
            return 0.0
        backoff = min(self.backoff_max, self.backoff_initial * 2 ** (n - 1))
        delay = backoff / 2 + random.uniform(0, backoff / 2)
        exc = state.outcome.exception() if state.outcome else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            delay = max(delay, float(after))
        log.warning("%s; retry %d/%d in %.1fs", exc, n, attempts - 1, delay)
        return delay

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        idempotent: bool | None = None,
        raw: bool = False,
        rate_limit: bool = True,
        max_attempts: int | None = None,
    ) -> Any:
        """Send a request, with rate limiting and retries; returns the decoded JSON body.

        Args:
            method: HTTP method.
            path: path under the base URL (e.g. ``"/v2/user/profile"``), or an absolute URL.
            params: query parameters; data: form fields; json: a JSON body.
            headers: extra headers (they override the default ones, ``Authorization``
                included).
            auth: send the bearer token (False for the login token exchange and public files).
            idempotent: retry after failures where Upstox may have acted; default: GET,
                HEAD, OPTIONS and DELETE.
            raw: return the body bytes instead of decoded JSON.
            rate_limit: count the request against the API rate limits (False for public files).
            max_attempts: tries for THIS request (>= 1); default: the client's
                ``max_attempts``. ``1`` sends exactly one request and never retries, whatever
                the failure (for calls whose repetition the caller decides, e.g. an order
                place); the first failure is raised as it is.

        Raises:
            ValueError: ``max_attempts`` < 1 (nothing is sent).
            TokenExpiredError: 401 / UDAPI100050.
            TokenMissingError: ``auth`` and no token anywhere.
            RateLimitedError: 429 on every attempt.
            UpstoxUnavailableError: 5xx / network failure on every attempt (``request_sent``
                is False when the request never left, i.e. a failure to connect).
            UpstoxError: any other 4xx (never retried), or a body that is not JSON.
        """
        attempts = self.max_attempts if max_attempts is None else int(max_attempts)
        if attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, not {max_attempts}")
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "OPTIONS", "DELETE")
        hdrs = self._headers(path, auth, headers)
        kw: dict[str, Any] = {}
        if params is not None:
            kw["params"] = params
        if data is not None:
            kw["data"] = data
        if json is not None:
            kw["json"] = json
        try:
            if attempts == 1:
                return self._once(method, path, hdrs, raw, rate_limit, **kw)
            retrying = Retrying(
                retry=retry_if_exception(_is_retryable(idempotent)),
                stop=stop_after_attempt(attempts),
                wait=lambda state: self._wait(state, attempts),
                sleep=self._sleep,
                reraise=True,
            )
            return retrying(self._once, method, path, hdrs, raw, rate_limit, **kw)
        except TokenExpiredError as exc:
            if self.gate is not None and auth:
                self.gate.refused(exc)
            raise

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """``GET path`` (see :meth:`request`); returns the decoded JSON body."""
        return self.request("GET", path, params=params, **kw)

    def post(
        self,
        path: str,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        **kw: Any,
    ) -> Any:
        """``POST path`` with form ``data`` or a ``json`` body (see :meth:`request`)."""
        return self.request("POST", path, data=data, json=json, **kw)

    def download(self, url: str) -> bytes:
        """GET a public file (no token, no rate limit, e.g. the instruments master); retried.

        Raises:
            UpstoxUnavailableError: 5xx / network failure on every attempt.
            UpstoxError: any other HTTP error.
        """
        data: bytes = self.request(
            "GET", url, auth=False, raw=True, rate_limit=False, headers={"Accept": "*/*"}
        )
        return data
