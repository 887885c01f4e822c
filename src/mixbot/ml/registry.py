"""The model registry: ``models/<bot_id>/<version>/`` with everything a model was made from.

Layout of one version folder (``models/`` is git-ignored; ``$MIXBOT_MODELS`` moves it)::

    meta.json      what the bot and `mixbot models` read: feature set id, feature names and the
                   training fold's normalisation statistics, window, horizon, bar size, symbol,
                   the data files' SHA-256 and date ranges, the training parameters, the tuner's
                   result (trials, scores, deflated Sharpe), the ATR stop/target multipliers
                   (adapted ones included), every fold's date ranges, members and metrics,
                   creation time (UTC) and the library versions
    report.json    the out-of-sample report (:mod:`mixbot.ml.report`); report.png its charts
    adapt.json     the history of `mixbot adapt --write` on this model (newest last)
    fold<K>/, final/   per ensemble member: m<J>.b1.tflite, m<J>.b256.tflite (LiteRT) and
                   m<J>.weights.h5 (Keras weights)

Versions are ``v0001``, ``v0002``, ... per bot; ``"latest"`` is the highest.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixbot.errors import ConfigError, MixbotError

MODELS_ENV = "MIXBOT_MODELS"


def models_root() -> Path:
    """The registry folder: ``$MIXBOT_MODELS`` or ``./models``."""
    return Path(os.environ.get(MODELS_ENV) or "models")


@dataclass
class ModelRecord:
    """One registered model version (``meta`` is the parsed meta.json)."""

    bot_id: str
    version: str
    path: Path
    meta: dict[str, Any]

    @property
    def stops(self) -> dict[str, Any]:
        """Current ATR multipliers: the newest `mixbot adapt --write` result, else training's.

        Returns ``{"atr_period", "sl_multiplier", "tp_multiplier"}`` (ATRs) and more keys.
        """
        history = self.adaptations()
        return history[-1]["stops"] if history else dict(self.meta["stops"])

    def adaptations(self) -> list[dict[str, Any]]:
        """Every recorded adaptation, oldest first (empty when none)."""
        f = self.path / "adapt.json"
        return list(json.loads(f.read_text(encoding="utf-8"))) if f.exists() else []


def new_version(bot_id: str) -> tuple[str, Path]:
    """Create the next version folder of ``bot_id``; returns ``(version, path)``."""
    base = models_root() / bot_id
    base.mkdir(parents=True, exist_ok=True)
    n = max((int(p.name[1:]) for p in _version_dirs(base)), default=0) + 1
    while True:
        path = base / f"v{n:04d}"
        try:
            path.mkdir()
            return path.name, path
        except FileExistsError:
            n += 1


def _version_dirs(base: Path) -> list[Path]:
    if not base.is_dir():
        return []
    return sorted(
        p for p in base.iterdir() if p.is_dir() and p.name[:1] == "v" and p.name[1:].isdigit()
    )


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` atomically (the last step of training: a folder without it is
    an unfinished training and is not listed)."""
    tmp = path / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    tmp.replace(path / "meta.json")


def versions(bot_id: str) -> list[ModelRecord]:
    """The finished versions of ``bot_id``, oldest first."""
    out = []
    for p in _version_dirs(models_root() / bot_id):
        f = p / "meta.json"
        if f.exists():
            out.append(ModelRecord(bot_id, p.name, p, json.loads(f.read_text(encoding="utf-8"))))
    return out


def all_bots() -> list[str]:
    """Bot ids with at least one folder in the registry."""
    root = models_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def load(bot_id: str, version: str = "latest", source: str = "") -> ModelRecord:
    """The record of ``version`` (``"latest"``: the newest) of ``bot_id``'s models.

    Raises:
        ConfigError: no such model (the message says to run ``mixbot train``).
    """
    found = versions(bot_id)
    where = f"{source}: " if source else ""
    if not found:
        raise ConfigError(
            f"{where}no trained model for bot {bot_id!r} in {models_root() / bot_id}: "
            f"run `mixbot train {source or 'CONFIG'}` first"
        )
    if version == "latest":
        return found[-1]
    for rec in found:
        if rec.version == version:
            return rec
    raise ConfigError(
        f"{where}model {version!r} of bot {bot_id!r} not found; the registry has "
        f'{", ".join(r.version for r in found)} (or use "latest")'
    )


def check_compatible(rec: ModelRecord, cfg: Any, feature_set: str, field: str) -> None:
    """Refuse a model made for another feature set, bar size or instrument.

    Raises:
        ConfigError: names the config file, the field and the fix.
    """
    m = rec.meta
    problems = []
    if m["feature_set"] != feature_set:
        problems.append(
            f"its feature set is {m['feature_set']!r}, this mixbot computes {feature_set!r}"
        )
    if int(m["interval_minutes"]) != int(cfg.data.interval_minutes):
        problems.append(
            f"it was trained on {m['interval']} bars, this config's data.interval is "
            f"{cfg.data.interval}"
        )
    if problems:
        raise ConfigError(
            f"{cfg.source_file}: {field}: model {rec.version} of bot {rec.bot_id} does not fit "
            f"this config ({'; '.join(problems)}): retrain with `mixbot train "
            f"{cfg.source_file}` or pick a matching version"
        )


def record_adaptation(bot_id: str, result: dict[str, Any], version: str = "latest") -> Path:
    """Append an adaptation (``result["stops"]`` = the new multipliers) to the model's
    ``adapt.json``; the bot's ML exit uses the newest. Returns the file written.

    Raises:
        ConfigError: no such model.
        MixbotError: ``result`` has no ``stops``.
    """
    if "stops" not in result:
        raise MixbotError("an adaptation needs a 'stops' entry")
    rec = load(bot_id, version)
    entry = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **result}
    f = rec.path / "adapt.json"
    history = rec.adaptations() + [entry]
    tmp = rec.path / "adapt.json.tmp"
    tmp.write_text(json.dumps(history, indent=2, default=str), encoding="utf-8")
    tmp.replace(f)
    return f
