"""The ``openalgo`` config section and the REST client on the official ``openalgo`` library.

Section (root of a bot config, next to ``broker``)::

    "openalgo": {"host": "http://127.0.0.1:5000", "ws_url": "ws://127.0.0.1:8765",
                 "api_key": "${OPENALGO_API_KEY}", "strategy": "mixbot"}

Environment overrides (win over the section): ``MIXBOT_OPENALGO_HOST`` (REST base),
``MIXBOT_OPENALGO_WS`` (websocket URL). The API key only ever comes from the ``${VAR}`` the
section names (a secret field: masked in output, never logged).

Rate limits (OpenAlgo docs, https://docs.openalgo.in/api-documentation/v1/rate-limiting,
per IP, configurable in OpenAlgo's ``.env``): order placement / modification /
cancellation 10 per second, ``placesmartorder`` 2 per second, every other endpoint 50 per
second. :class:`OpenAlgoRest` keeps under them in process (a sliding window per group).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from mixbot.errors import MixbotError

HOST_ENV, WS_ENV = "MIXBOT_OPENALGO_HOST", "MIXBOT_OPENALGO_WS"
#: (calls, window seconds) per endpoint group (OpenAlgo docs, see the module docstring)
LIMITS = {"order": (10, 1.0), "smart": (2, 1.0), "general": (50, 1.0)}
ORDER_ENDPOINTS = ("placeorder", "modifyorder", "cancelorder")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "OpenAlgo bridge: where the OpenAlgo server runs and its API key.",
    "properties": {
        "host": {"type": "string", "default": "http://127.0.0.1:5000",
                 "description": "REST base (env MIXBOT_OPENALGO_HOST wins)"},
        "ws_url": {"type": "string", "default": "ws://127.0.0.1:8765",
                   "description": "market-data websocket (env MIXBOT_OPENALGO_WS wins)"},
        "api_key": {"type": "string", "default": "${OPENALGO_API_KEY}",
                    "description": "SECRET: the OpenAlgo API key, as ${VAR}"},
        "strategy": {"type": "string", "default": "mixbot", "minLength": 1,
                     "description": "strategy name sent with every order"},
    },
}  # fmt: skip


class OpenAlgoError(MixbotError):
    """An OpenAlgo call failed (``message`` is the server's or the client's; no key)."""


@dataclass(frozen=True)
class OpenAlgoConfig:
    """The typed ``openalgo`` section (hosts after the env overrides; key resolved)."""

    host: str
    ws_url: str
    api_key: str | None
    strategy: str

    @classmethod
    def of(cls, cfg: Any) -> OpenAlgoConfig:
        """Read ``cfg.raw["openalgo"]`` (defaults from :data:`SCHEMA`) and the env overrides."""
        from mixbot.config.secrets import section_secret

        sec = (getattr(cfg, "raw", None) or {}).get("openalgo") or {}
        props = SCHEMA["properties"]
        host = os.environ.get(HOST_ENV) or sec.get("host") or props["host"]["default"]
        ws = os.environ.get(WS_ENV) or sec.get("ws_url") or props["ws_url"]["default"]
        key = section_secret(cfg, "openalgo", "api_key")
        if key is None and "api_key" not in sec:
            key = os.environ.get("OPENALGO_API_KEY", "").strip() or None
        return cls(str(host).rstrip("/"), str(ws), key, str(sec.get("strategy") or "mixbot"))


class _Window:
    def __init__(self, calls: int, window: float) -> None:
        self.calls, self.window = calls, window
        self.spent: deque[float] = deque()
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until a call is allowed (sliding window), record it; seconds waited."""
        waited = 0.0
        while True:
            with self.lock:
                now = time.monotonic()
                while self.spent and now - self.spent[0] >= self.window:
                    self.spent.popleft()
                if len(self.spent) < self.calls:
                    self.spent.append(now)
                    return waited
                delay = self.window - (now - self.spent[0])
            time.sleep(delay)
            waited += delay


class OpenAlgoRest:
    """REST calls through the official client (``openalgo.api``), rate limited, errors raised.

    Args:
        conf: the section (host, key).
        timeout: seconds per HTTP call.

    Raises:
        OpenAlgoError: no API key (at construction).
    """

    def __init__(self, conf: OpenAlgoConfig, timeout: float = 30.0) -> None:
        if not conf.api_key:
            raise OpenAlgoError(
                "no OpenAlgo API key: set the variable openalgo.api_key names "
                "(default OPENALGO_API_KEY)"
            )
        import openalgo

        self.conf = conf
        self.client = openalgo.api(
            api_key=conf.api_key, host=conf.host, ws_url=conf.ws_url, timeout=timeout
        )
        self.windows = {k: _Window(*v) for k, v in LIMITS.items()}

    def call(self, endpoint: str, **kwargs: Any) -> Any:
        """``client.<endpoint>(**kwargs)``; the answer (dict, or a DataFrame for history).

        Raises:
            OpenAlgoError: the answer has ``status: error`` (its message; the key is never
                in it: the client does not echo the body).
        """
        group = "order" if endpoint in ORDER_ENDPOINTS else (
            "smart" if endpoint == "placesmartorder" else "general")  # fmt: skip
        self.windows[group].acquire()
        out = getattr(self.client, endpoint)(**kwargs)
        if isinstance(out, dict) and out.get("status") == "error":
            msg = str(out.get("message") or "unknown error")
            if self.conf.api_key:
                msg = msg.replace(self.conf.api_key, "***")
            raise OpenAlgoError(f"OpenAlgo {endpoint}: {msg}")
        return out
