"""Load a config file into a validated :class:`~mixbot.config.model.BotConfig`."""

from __future__ import annotations

from pathlib import Path

from mixbot.config.model import BotConfig, build
from mixbot.config.validate import validate_file
from mixbot.errors import ConfigError


def load_config(path: str | Path) -> BotConfig:
    """Validate ``path`` and build its typed config.

    Raises:
        ConfigError: the config has errors; the message lists every one of them
            (file:line:col, JSON path, problem, hint), as ``mixbot validate`` prints them.
    """
    report = validate_file(path)
    if not report.ok or report.effective is None:
        lines = "\n".join(p.render() for p in report.errors)
        raise ConfigError(f"{path}: invalid config ({len(report.errors)} error(s)):\n{lines}")
    return build(report.effective, Path(path))
