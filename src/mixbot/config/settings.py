"""Host settings (``config/mixbot.json``): their JSON Schema, validation and typed form.

``mixbot validate`` recognises a settings file (named ``mixbot.json``, or with a
``supervisor`` / ``web`` section and none of a bot config's sections) and validates it
against ``settings.schema.json`` with the same ``file:line:col`` problems as a bot config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from mixbot.config.problems import Report
from mixbot.errors import ConfigError

SETTINGS_SCHEMA_FILE = "settings.schema.json"
#: ``mixbot serve`` reads this file when it exists and no ``--settings`` is given.
DEFAULT_SETTINGS = Path("config/mixbot.json")


@lru_cache(maxsize=1)
def settings_schema() -> dict[str, Any]:
    """The packaged host-settings schema (callers must not mutate it)."""
    text = resources.files("mixbot.config").joinpath(SETTINGS_SCHEMA_FILE).read_text("utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def is_settings_file(path: str | Path) -> bool:
    """True when ``path`` looks like host settings rather than a bot config."""
    p = Path(path)
    if p.name == DEFAULT_SETTINGS.name:
        return True
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    bot_keys = ("bot_id", "strategy", "trading", "data", "broker")
    return (
        isinstance(doc, dict)
        and not any(k in doc for k in bot_keys)
        and any(k in doc for k in ("supervisor", "web"))
    )


def validate_settings_file(path: str | Path) -> Report:
    """Validate a settings file; every problem as ``mixbot validate`` reports them."""
    from mixbot.config.schema import fill_defaults
    from mixbot.config.source import read_source
    from mixbot.config.validate import _schema_problems

    src, problems = read_source(path)
    if src is None:
        return Report(str(path), problems)
    report = Report(str(path), problems + _schema_problems(src.doc, settings_schema(), src))
    if isinstance(src.doc, dict):
        report.effective = fill_defaults(src.doc, settings_schema())
    return report


@dataclass(frozen=True)
class SupervisorSettings:
    """The ``supervisor`` section (seconds unless named otherwise; see the schema)."""

    restart_backoff_s: float = 1.0
    restart_backoff_max_s: float = 60.0
    max_failures: int = 5
    failure_window_minutes: float = 10.0
    hang_after_s: float = 60.0
    stop_timeout_s: float = 10.0


@dataclass(frozen=True)
class Settings:
    """Typed host settings; ``notifications`` and ``web`` stay raw dicts until their
    features read them."""

    file: str | None
    supervisor: SupervisorSettings
    notifications: dict[str, Any]
    web: dict[str, Any]


def load_settings(path: str | Path | None) -> Settings:
    """The settings of ``path``; with None, ``config/mixbot.json`` when it exists, else the
    defaults.

    Raises:
        ConfigError: the file is missing (when named) or invalid (every problem listed).
    """
    if path is None:
        if not DEFAULT_SETTINGS.exists():
            return Settings(None, SupervisorSettings(), {}, {})
        path = DEFAULT_SETTINGS
    if not Path(path).exists():
        raise ConfigError(f"{path}: settings file not found (see `mixbot serve --help`)")
    report = validate_settings_file(path)
    if not report.ok or report.effective is None:
        lines = "\n".join(p.render() for p in report.errors)
        raise ConfigError(f"{path}: invalid settings ({len(report.errors)} error(s)):\n{lines}")
    eff = report.effective
    return Settings(
        str(path),
        SupervisorSettings(**eff.get("supervisor", {})),
        dict(eff.get("notifications", {})),
        dict(eff.get("web", {})),
    )
