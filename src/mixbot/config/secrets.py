"""``${VAR}`` references: resolved from the environment or a git-ignored ``.env``.

Secret values are never returned in printable form: :func:`mask` replaces them, and
validation messages name the variable, never its value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

_dotenv_loaded: set[str] = set()


def load_dotenv_once(directory: Path | None = None) -> None:
    """Load ``.env`` from ``directory`` (default: current directory) into os.environ,
    without overriding variables already set. Idempotent per directory."""
    from dotenv import load_dotenv

    d = (directory or Path.cwd()).resolve()
    key = str(d)
    if key in _dotenv_loaded:
        return
    _dotenv_loaded.add(key)
    env_file = d / ".env"
    if env_file.is_file():
        load_dotenv(env_file, override=False)


def referenced_vars(value: str) -> list[str]:
    """Names of the variables referenced in ``value``."""
    return REF.findall(value)


def resolve(value: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Substitute ``${VAR}`` references.

    Returns:
        (resolved text, names of unset variables). Unset references are left in place.
    """
    env = os.environ if env is None else env  # type: ignore[assignment]
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in env:  # type: ignore[operator]
            return env[name]  # type: ignore[index]
        missing.append(name)
        return m.group(0)

    return REF.sub(sub, value), missing


def resolve_tree(doc: Any, env: dict[str, str] | None = None) -> Any:
    """Deep copy of ``doc`` with every string's ``${VAR}`` references resolved (unset ones kept)."""
    if isinstance(doc, dict):
        return {k: resolve_tree(v, env) for k, v in doc.items()}
    if isinstance(doc, list):
        return [resolve_tree(v, env) for v in doc]
    if isinstance(doc, str):
        return resolve(doc, env)[0]
    return doc


def mask(doc: Any, secret_paths: tuple[tuple[str, ...], ...]) -> Any:
    """Copy of ``doc`` where each secret field shows ``${VAR} (set)`` / ``${VAR} (NOT SET)``."""
    import copy

    out = copy.deepcopy(doc)
    for path in secret_paths:
        node = out
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict) and isinstance(node.get(path[-1]), str):
            ref = node[path[-1]]
            names = referenced_vars(ref)
            state = "set" if names and all(n in os.environ for n in names) else "NOT SET"
            node[path[-1]] = f"{ref} ({state})" if names else "***"
    return out


def broker_secret(cfg: Any, field: str) -> str | None:
    """The value of the ``${VAR}`` that ``broker.<field>`` of ``cfg`` (a
    :class:`~mixbot.config.model.BotConfig`) refers to: the first referenced variable set to
    a non-blank value in the environment (load ``.env`` first with :func:`load_dotenv_once`),
    stripped; None when none is set (the venue then falls back to its own token file).

    The one lookup of broker secrets (access tokens): the value is never logged.
    """
    return section_secret(cfg, "broker", field)


def section_secret(cfg: Any, section: str, field: str) -> str | None:
    """The value of the ``${VAR}`` that ``<section>.<field>`` of ``cfg`` refers to (a venue's
    section: ``section_secret(cfg, "binance", "api_secret")``), as :func:`broker_secret`:
    the first referenced variable set to a non-blank value, stripped; None when none is."""
    ref = ((cfg.raw or {}).get(section) or {}).get(field)
    for var in referenced_vars(ref) if isinstance(ref, str) else []:
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return None
