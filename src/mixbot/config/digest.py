"""The config hash: one fingerprint of a bot's effective config.

The store keeps it with the bot's row (``bots.config_hash``) and refuses to resume a
session whose config changed (:meth:`mixbot.store.repository.Store.register`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def config_hash(cfg: Any) -> str:
    """SHA-256 hex digest (64 characters) of the effective config of ``cfg`` (a
    :class:`~mixbot.config.model.BotConfig`: defaults filled, secrets as ``${VAR}``
    references, so no secret value enters the hash), keys sorted."""
    return hashlib.sha256(json.dumps(cfg.raw, sort_keys=True, default=str).encode()).hexdigest()
