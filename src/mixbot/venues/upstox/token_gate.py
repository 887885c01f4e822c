""":class:`TokenGate`: the one access token of a bot's Upstox session, what happens when Upstox
refuses it, and how a running bot picks up the token of a new ``mixbot upstox login``.

Upstox access tokens die at 03:30 IST every day (get-token docs:
https://upstox.com/developer/api-documentation/get-token). When any call of the session is
answered 401 / ``UDAPI100050`` (:class:`~mixbot.venues.upstox.http.errors.TokenExpiredError`)
the gate becomes *expired*: the broker places no order (they wait), the strategy enters
nothing, the feed's websocket waits instead of reconnecting, and the bot's status says why.
While expired, :meth:`TokenGate.refresh` reads the token file that ``mixbot upstox login``
writes (:func:`mixbot.venues.upstox.auth.load_token`) at most every ``every_s`` seconds; a
valid token different from the refused one renews the gate: every client of the session
uses it from its next request, the feed re-authorises, the broker re-reads its orders and
positions. The token of ``$UPSTOX_ACCESS_TOKEN`` cannot change inside a running process, so
the token file is where a new one comes from, also for a bot started with the variable.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from mixbot.venues.upstox.http.errors import LOGIN_HINT

log = logging.getLogger(__name__)


def stored_token() -> str | None:
    """The token of the login token file when it is valid, else None."""
    from mixbot.errors import ConfigError
    from mixbot.venues.upstox import auth
    from mixbot.venues.upstox.http.errors import TokenExpiredError

    try:
        return auth.load_token().access_token
    except (FileNotFoundError, TokenExpiredError, ConfigError, OSError):
        return None


class TokenGate:
    """The session's token and its expired / renewed state (thread-safe).

    Args:
        token: the token to start with (None: the first client resolves it and calls
            :meth:`set_initial`).
        reload: ``() -> token or None``: where a renewed token comes from (default the login
            token file).
        clock: ``time.monotonic``-like, for the refresh spacing (tests pass their own).
        every_s: shortest time between two reloads while expired (seconds).
    """

    def __init__(
        self,
        token: str | None = None,
        reload: Callable[[], str | None] = stored_token,
        clock: Callable[[], float] = time.monotonic,
        every_s: float = 2.0,
    ) -> None:
        self._token = token
        self._reload = reload
        self._clock = clock
        self.every_s = every_s
        self._lock = threading.Lock()
        self._refused: str | None = None
        self._last_try = float("-inf")
        #: why the token is refused (None: it is not); a sentence with the login hint
        self.reason: str | None = None
        #: how often a new token was taken up (listeners compare it)
        self.renewals = 0

    @property
    def token(self) -> str | None:
        """The token every client of the session sends (None: not resolved yet)."""
        return self._token

    def set_initial(self, token: str) -> None:
        """The token a client resolved on its own (first use)."""
        with self._lock:
            if self._token is None:
                self._token = token

    @property
    def expired(self) -> bool:
        """Upstox refused the current token and no new one was taken up yet."""
        return self.reason is not None

    def refused(self, exc: BaseException) -> None:
        """Upstox answered 401 to the current token: the gate is expired (logged once)."""
        with self._lock:
            if self.reason is not None:
                return
            self._refused = self._token
            self.reason = (
                f"Upstox refused the access token ({str(exc).split('. ')[0]}): no orders until "
                f"a new one; {LOGIN_HINT}, and the running bot continues with it"
            )
        log.error("%s", self.reason)

    def refresh(self) -> bool:
        """While expired, take up a new token from the token file when there is one (at most
        every ``every_s``); True when the gate is usable (not expired, or just renewed)."""
        if self.reason is None:
            return True
        now = self._clock()
        with self._lock:
            if now - self._last_try < self.every_s:
                return False
            self._last_try = now
        new = self._reload()
        with self._lock:
            if self.reason is None:
                return True
            if not new or new == self._refused:
                return False
            self._token, self.reason, self._refused = new, None, None
            self.renewals += 1
        log.warning("Upstox: a new access token was taken up; continuing")
        return True

    async def wait_renewed(self, stopped: Callable[[], bool]) -> bool:
        """Wait (asyncio) until the gate is renewed; False when ``stopped()`` first."""
        while not stopped():
            if self.refresh():
                return True
            await asyncio.sleep(min(self.every_s, 0.5))
        return False
