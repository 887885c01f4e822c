"""Finding bot configs and loading them for reading, validating and saving them.

A *bot reference* is a config file path. Folders expand to their ``*.json`` files (not
recursive: ``config/trading/live/`` needs credentials and is named explicitly).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixbot.errors import ConfigError

#: Where ``mixbot serve`` / ``mixbot status --all`` look when given no config.
DEFAULT_FOLDER = Path("config/trading")


def expand(paths: Iterable[str | Path], default: Path | None = DEFAULT_FOLDER) -> list[Path]:
    """Config files named by ``paths`` (files as given, folders as their ``*.json`` sorted);
    ``default`` when ``paths`` is empty.

    Raises:
        ConfigError: a path does not exist, or a folder holds no config.
    """
    items = [Path(p) for p in paths] or ([default] if default is not None else [])
    out: list[Path] = []
    for p in items:
        if p.is_dir():
            found = sorted(f for f in p.glob("*.json") if f.is_file())
            if not found:
                raise ConfigError(f"{p}: no *.json bot configs in this folder")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError(f"{p}: no such config file or folder")
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]  # type: ignore[func-returns-value]


def load_for_reading(path: str | Path) -> Any:
    """The config, validated, except that its data file and secrets need not be present:
    reading the store needs neither (the data folder may have moved, the token expired).

    Raises:
        ConfigError: any other problem, listed as ``mixbot validate`` lists them.
    """
    from mixbot.config.model import build
    from mixbot.config.validate import validate_file

    report = validate_file(path)
    blocking = [
        p
        for p in report.errors
        if not (p.path.startswith("$.data.path") or "environment variable" in p.message)
    ]
    if blocking or report.effective is None:
        lines = "\n".join(p.render() for p in blocking or report.errors)
        raise ConfigError(f"{path}: invalid config ({len(blocking)} error(s)):\n{lines}")
    return build(report.effective, Path(path))


def store_mode(cfg: Any) -> str:
    """``"live"`` for a broker that sends real orders, else ``"paper"`` (which store file);
    the venue registry knows which (:func:`mixbot.venues.registry.store_mode`)."""
    from mixbot.venues.registry import store_mode as venue_store_mode

    return venue_store_mode(cfg)


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of validating a config text: ``ok``, the problems rendered as
    ``file:line:col: error: $.path: message (hint)``, and the effective config (defaults
    filled) when it parsed. ``details``: the same problems as dicts (path, message, line,
    column, hint, severity) for an editor that marks them at their line."""

    file: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    effective: dict[str, Any] | None = None
    details: list[dict[str, Any]] = field(default_factory=list)


def validate_text(text: str, file: str = "<config>") -> ValidationResult:
    """Validate a config given as text (the GUI's editor, a config about to be saved)."""
    from mixbot.config.validate import validate_file

    report = validate_file(file, text=text)
    return ValidationResult(
        file,
        report.ok,
        [p.render() for p in report.problems],
        report.effective,
        [p.to_dict() for p in report.problems],
    )


def read_text(path: str | Path) -> str:
    """The config file's text.

    Raises:
        ConfigError: it cannot be read.
    """
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def save_text(
    path: str | Path, text: str, backup_dir: Path | None = None
) -> tuple[Path, Path | None]:
    """Validate ``text`` and write it to ``path`` atomically (temp file + rename), keeping
    the old file as ``<backup_dir>/<name>.<UTC time>.bak`` (default: a ``.backup`` folder
    beside it). Returns ``(path, backup or None)``.

    Raises:
        ConfigError: the text is not a valid config (nothing is written), or the write failed.
    """
    target = Path(path)
    result = validate_text(text, str(target))
    if not result.ok:
        raise ConfigError(
            f"{target}: not saved, the new config is invalid:\n" + "\n".join(result.problems)
        )
    backup: Path | None = None
    try:
        if target.exists():
            bdir = backup_dir or target.parent / ".backup"
            bdir.mkdir(parents=True, exist_ok=True)
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
            backup = bdir / f"{target.name}.{stamp}.bak"
            shutil.copy2(target, backup)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot save ({exc.strerror})") from None
    return target, backup


def bot_id_of(path: str | Path) -> str | None:
    """The ``bot_id`` a config file declares (None when it cannot be read as JSON)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    v = doc.get("bot_id") if isinstance(doc, dict) else None
    return str(v) if v is not None else None
