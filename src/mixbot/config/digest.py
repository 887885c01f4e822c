"""The config hash: one fingerprint of a bot's effective config.

The store keeps it with the bot's row (``bots.config_hash``) and refuses to resume a
session whose config changed (:meth:`mixbot.store.repository.Store.register`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: Keys left out of the hash: calendar facts that a running bot's user adds when the
#: exchange publishes them (next year's holidays), which must not stop it from resuming.
_NOT_HASHED = (("market", "holidays"),)


def config_hash(cfg: Any) -> str:
    """SHA-256 hex digest (64 characters) of the effective config of ``cfg`` (a
    :class:`~mixbot.config.model.BotConfig`: defaults filled, secrets as ``${VAR}``
    references, so no secret value enters the hash), keys sorted, without the keys of
    :data:`_NOT_HASHED`."""
    raw = cfg.raw
    for section, key in _NOT_HASHED:
        if key in (raw.get(section) or {}):
            raw = {**raw, section: {k: v for k, v in raw[section].items() if k != key}}
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
