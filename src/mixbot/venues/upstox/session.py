"""``UpstoxSession``: the one connection to an Upstox account that a bot's feed and broker share
(the "store" of Backtrader's store / feed / broker shape, ``backtrader/stores/ibstore.py``).

Upstox counts its rate limits per USER and API group
(https://upstox.com/developer/api-documentation/rate-limiting), so every REST client a bot
makes (the feed's candle back-fill and websocket authorize, the broker's reads, the
portfolio-stream authorize) takes its tokens from ONE standard-API
:class:`~mixbot.venues.upstox.http.client.RateLimiter`; order calls have their own limiter in
:class:`~mixbot.venues.upstox.execution.orders.OrderApi`. Each thread gets its own client (an HTTP
connection pool is not shared across threads), all with the same token, host and limiter.
The token lives in the session's :class:`~mixbot.venues.upstox.token_gate.TokenGate`: when
Upstox refuses it (the daily 03:30 IST expiry) every part of the bot sees the gate expired,
and a new ``mixbot upstox login`` renews it for all of them.
"""

from __future__ import annotations

import threading
from typing import Any

from mixbot.venues.upstox.http.client import RateLimiter, UpstoxClient
from mixbot.venues.upstox.token_gate import TokenGate


class UpstoxSession:
    """Shared token, API host and standard-API rate limiter of one Upstox account.

    Args:
        token: the access token; None = :class:`UpstoxClient`'s default
            (``$UPSTOX_ACCESS_TOKEN``, else the ``mixbot upstox login`` token file).
        base_url: API base URL; None = ``$MIXBOT_UPSTOX_API`` or Upstox's.
        rate_limiter: the shared limiter (default: a new one with Upstox's standard limits).
        gate: the token gate (default: a new one holding ``token``).
    """

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        rate_limiter: RateLimiter | None = None,
        gate: TokenGate | None = None,
    ) -> None:
        self.token = token
        self.gate = gate or TokenGate(token)
        self.base_url = base_url
        self.rate_limiter = rate_limiter or RateLimiter()
        self._lock = threading.Lock()
        self.clients: list[UpstoxClient] = []

    def client(self, **kwargs: Any) -> UpstoxClient:
        """A new REST client on this session (same token, host and rate limiter).

        Raises:
            TokenMissingError: no token given and none found (see :class:`UpstoxClient`).
        """
        c = UpstoxClient(
            self.token, self.base_url, rate_limiter=self.rate_limiter, gate=self.gate, **kwargs
        )
        with self._lock:
            self.clients.append(c)
        return c

    def close(self) -> None:
        """Close every client made by :meth:`client`."""
        with self._lock:
            clients, self.clients = self.clients, []
        for c in clients:
            c.close()
