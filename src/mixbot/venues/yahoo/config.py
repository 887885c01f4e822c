"""The ``yahoo`` section of a bot config (root key ``yahoo``, next to ``broker`` and ``data``).

Example::

    "yahoo": {"api": null, "poll_seconds": null, "close_grace_seconds": 5}

``api`` replaces every Yahoo host (like ``MIXBOT_YAHOO_API``, which wins when set);
``poll_seconds`` overrides the poll period derived from the bar size
(:func:`mixbot.venues.yahoo.feed.poll_seconds`); ``close_grace_seconds`` is how long after a
bar's end the extrapolated exchange clock waits before taking it as closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "Yahoo Finance data source settings (data.data_source yahoo).",
    "properties": {
        "api": {
            "type": ["string", "null"],
            "default": None,
            "pattern": "^https?://[^/]+/?$",
            "description": "Base URL replacing every Yahoo host (e.g. the local simulator, "
            "http://127.0.0.1:8765); null = Yahoo. $MIXBOT_YAHOO_API wins when set.",
        },
        "poll_seconds": {
            "type": ["number", "null"],
            "default": None,
            "minimum": 0.1,
            "maximum": 3600,
            "description": "Poll period in wall seconds; null = from the bar size (a twelfth "
            "of the bar, 5..60 s).",
        },
        "close_grace_seconds": {
            "type": "number",
            "default": 5.0,
            "minimum": 0,
            "maximum": 300,
            "description": "Seconds after a bar's end before the extrapolated exchange clock "
            "takes it as closed (when Yahoo's last-trade time has not passed it yet).",
        },
    },
}


@dataclass(frozen=True)
class YahooConfig:
    """Typed, frozen ``yahoo`` section (defaults as in :data:`SCHEMA`).

    Attributes:
        api: base URL replacing Yahoo's hosts, or None.
        poll_seconds: poll period (wall s), or None (from the bar size).
        close_grace_seconds: see the module doc (s).
    """

    api: str | None = None
    poll_seconds: float | None = None
    close_grace_seconds: float = 5.0

    @classmethod
    def of(cls, cfg: Any) -> YahooConfig:
        """The section of a :class:`~mixbot.config.model.BotConfig` (``cfg.raw["yahoo"]``)."""
        y: dict[str, Any] = (getattr(cfg, "raw", None) or {}).get("yahoo") or {}
        poll = y.get("poll_seconds")
        return cls(
            api=y.get("api") or None,
            poll_seconds=float(poll) if poll is not None else None,
            close_grace_seconds=float(y.get("close_grace_seconds", 5.0)),
        )
